namespace PosCuda.Testing.Storage;

/// <summary>What <see cref="FaultInjectingProxy"/> does to a request it picks.</summary>
public enum ProxyFault
{
    /// <summary>Answers 503 with an S3 <c>SlowDown</c> error.</summary>
    SlowDown,

    /// <summary>Answers 500 with an S3 <c>InternalError</c>.</summary>
    InternalError,

    /// <summary>Answers 403 with an S3 <c>AccessDenied</c> error (must not be retried).</summary>
    AccessDenied,

    /// <summary>Waits <see cref="FaultInjectingProxy.Delay"/> before forwarding.</summary>
    Delay,

    /// <summary>Drops the connection in the middle of a 200 answer (headers and a few bytes of body sent).</summary>
    Disconnect,
}
