namespace PosCuda.Testing.Processes;

/// <summary>The POSIX signals tests send to child processes, with their Linux numbers.</summary>
public enum UnixSignal
{
    /// <summary>SIGINT, what Ctrl+C sends.</summary>
    Interrupt = 2,

    /// <summary>SIGKILL: the process dies at once, holding whatever it held.</summary>
    Kill = 9,

    /// <summary>SIGTERM, the graceful stop a supervisor sends.</summary>
    Terminate = 15,

    /// <summary>SIGCONT: a stopped process runs again.</summary>
    Continue = 18,

    /// <summary>SIGSTOP: the process is frozen where it is (it cannot catch or ignore it).</summary>
    Stop = 19,
}
