using System.Globalization;
using PosCuda.Testing.Processes;

namespace PosCuda.Shared.Tests.Processes;

/// <summary>The tests' one launcher, exercised on <c>sh</c> scripts.</summary>
public sealed class ChildProcessTests
{
    private static readonly TimeSpan s_long = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task RunAsync_ScriptWritingBothStreams_ReturnsExitCodeAndExactOutput()
    {
        ChildProcessResult result = await ChildProcess.RunAsync(Shell("printf 'one\\ntwo\\n'; echo oops >&2; exit 3"), s_long);

        Assert.Equal(3, result.ExitCode);
        Assert.Equal("one\ntwo\n", result.StandardOutput);
        Assert.Equal("oops\n", result.StandardError);
    }

    [Fact]
    public async Task RunAsync_Overrun_KillsTheWholeTreeAndReportsTheOutput()
    {
        // The shell starts a grandchild and waits: both must be gone once the timeout fires.
        ChildCommand command = Shell("sleep 300 & echo \"grandchild $!\"; echo 'on stderr' >&2; wait");

        TimeoutException e = await Assert.ThrowsAsync<TimeoutException>(() => ChildProcess.RunAsync(command, TimeSpan.FromSeconds(2)));

        Assert.Contains("was killed", e.Message, StringComparison.Ordinal);
        Assert.Contains("on stderr", e.Message, StringComparison.Ordinal);
        string line = e.Message.Split('\n').Single(l => l.StartsWith("grandchild ", StringComparison.Ordinal));
        int grandchild = int.Parse(line["grandchild ".Length..], CultureInfo.InvariantCulture);
        Assert.False(IsRunning(grandchild), $"the grandchild {grandchild} outlived the timeout");
    }

    [Fact]
    public async Task RunAsync_EnvironmentChanges_SetAndRemoveVariables()
    {
        string inherited = "POSCUDA_CHILD_TEST_" + Guid.NewGuid().ToString("N");
        Environment.SetEnvironmentVariable(inherited, "inherited");
        try
        {
            ChildCommand command = Shell($"echo \"${{{inherited}-unset}} $SET_HERE\"")
                .WithoutInherited("POSCUDA_CHILD_TEST_")
                .WithEnvironment([KeyValuePair.Create("SET_HERE", (string?)"set")]);

            ChildProcessResult result = await ChildProcess.RunAsync(command, s_long);

            Assert.Equal("unset set\n", result.StandardOutput);
        }
        finally
        {
            Environment.SetEnvironmentVariable(inherited, null);
        }
    }

    [Fact]
    public async Task Signal_Terminate_RunsTheTrapAndExitCodeIsTheScripts()
    {
        await using ChildProcess child = ChildProcess.Start(Shell("trap 'echo got TERM; exit 7' TERM; echo ready; while :; do sleep 0.05; done"));
        Assert.Equal("ready", await child.WaitForOutputAsync(line => line == "ready", s_long));

        Assert.True(child.Signal(UnixSignal.Terminate));

        Assert.Equal(7, await child.WaitForExitAsync(s_long));
        Assert.Equal(["ready", "got TERM"], child.Output);
        Assert.Equal(7, child.ExitCode);
        Assert.False(child.Signal(UnixSignal.Terminate));
    }

    [Fact]
    public async Task Signal_Kill_ExitCodeIs137()
    {
        await using ChildProcess child = ChildProcess.Start(new ChildCommand("sleep") { Arguments = ["300"] });

        Assert.True(child.Signal(UnixSignal.Kill));

        Assert.Equal(137, await child.WaitForExitAsync(s_long));
        Assert.True(child.HasExited);
    }

    [Fact]
    public async Task WaitForOutputAsync_StartAt_SkipsEarlierLinesAndSeesLinesAlreadyWritten()
    {
        await using ChildProcess child = ChildProcess.Start(Shell("echo tick 1; echo tick 2; sleep 300"));
        await child.WaitForOutputAsync(line => line == "tick 2", s_long);
        int seen = child.LineCount;

        // Lines written before the call count; with startAt they do not.
        Assert.Equal("tick 1", await child.WaitForOutputAsync(line => line.StartsWith("tick", StringComparison.Ordinal), s_long));
        Task<string> next = child.WaitForOutputAsync(line => line.StartsWith("tick", StringComparison.Ordinal), s_long, startAt: seen);
        Assert.False(next.IsCompleted);
        Assert.Equal(2, seen);
        await child.KillAsync();
        await Assert.ThrowsAsync<InvalidOperationException>(() => next);
    }

    [Fact]
    public async Task WaitForOutputAsync_ExitsFirst_FailsWithItsStderr()
    {
        await using ChildProcess child = ChildProcess.Start(Shell("echo 'cannot bind port' >&2; exit 2"));

        InvalidOperationException e = await Assert.ThrowsAsync<InvalidOperationException>(
            () => child.WaitForOutputAsync(line => line.Contains("listening", StringComparison.Ordinal), s_long));

        Assert.Contains("exited with code 2", e.Message, StringComparison.Ordinal);
        Assert.Contains("cannot bind port", e.Message, StringComparison.Ordinal);
        Assert.Equal(["cannot bind port"], child.ErrorOutput);
    }

    [Fact]
    public async Task WaitForOutputAsync_NoSuchLine_TimesOutWithTheOutputAndLeavesItRunning()
    {
        await using ChildProcess child = ChildProcess.Start(Shell("echo started; sleep 300"));
        await child.WaitForOutputAsync(line => line == "started", s_long);

        TimeoutException e = await Assert.ThrowsAsync<TimeoutException>(
            () => child.WaitForOutputAsync(line => line == "never", TimeSpan.FromMilliseconds(200)));

        Assert.Contains("started", e.Message, StringComparison.Ordinal);
        Assert.False(child.HasExited);
    }

    [Fact]
    public async Task DisposeAsync_Running_KillsIt()
    {
        ChildProcess child = ChildProcess.Start(new ChildCommand("sleep") { Arguments = ["300"] });
        int id = child.Id;

        await child.DisposeAsync();

        Assert.True(child.HasExited);
        Assert.Equal(137, child.ExitCode);
        Assert.False(IsRunning(id));
    }

    [Fact]
    public void Start_MissingProgram_Throws()
        => Assert.ThrowsAny<System.ComponentModel.Win32Exception>(() => ChildProcess.Start(new ChildCommand("no-such-program-" + Guid.NewGuid().ToString("N"))));

    private static ChildCommand Shell(string script) => new("sh") { Arguments = ["-c", script] };

    // A killed process whose parent died too may stay a zombie until init reaps it: that counts as gone.
    private static bool IsRunning(int id)
    {
        string stat;
        try
        {
            stat = File.ReadAllText($"/proc/{id.ToString(CultureInfo.InvariantCulture)}/stat");
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return false;
        }

        char state = stat[(stat.LastIndexOf(')') + 2)..][0];
        return state is not ('Z' or 'X');
    }
}
