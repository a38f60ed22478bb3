using PosCuda.Shared.Ledger;

namespace PosCuda.Coordinator.Reports;

/// <summary>The bytes this run moved through the process: read from the source and written to the destination, in all and per object.</summary>
/// <remarks>Bytes a store copied by itself (a kernel copy, an S3 part copy) are not counted. Thread-safe.</remarks>
public sealed class TransferTally
{
    private long _objects;
    private long _bytesRead;
    private long _bytesWritten;
    private long _maxRead;
    private long _maxWritten;

    /// <summary>Objects counted.</summary>
    public long Objects => Interlocked.Read(ref _objects);

    /// <summary>Bytes read from sources.</summary>
    public long BytesRead => Interlocked.Read(ref _bytesRead);

    /// <summary>Bytes written to destinations.</summary>
    public long BytesWritten => Interlocked.Read(ref _bytesWritten);

    /// <summary>The most bytes read for one object.</summary>
    public long MaxBytesReadPerObject => Interlocked.Read(ref _maxRead);

    /// <summary>The most bytes written for one object.</summary>
    public long MaxBytesWrittenPerObject => Interlocked.Read(ref _maxWritten);

    /// <summary>Counts one object's result (results without counts are ignored).</summary>
    public void Add(ObjectResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        if (result.BytesRead < 0 || result.BytesWritten < 0)
        {
            return;
        }

        Interlocked.Increment(ref _objects);
        Interlocked.Add(ref _bytesRead, result.BytesRead);
        Interlocked.Add(ref _bytesWritten, result.BytesWritten);
        Max(ref _maxRead, result.BytesRead);
        Max(ref _maxWritten, result.BytesWritten);
    }

    private static void Max(ref long location, long value)
    {
        long seen = Interlocked.Read(ref location);
        while (value > seen)
        {
            long was = Interlocked.CompareExchange(ref location, value, seen);
            if (was == seen)
            {
                return;
            }

            seen = was;
        }
    }
}
