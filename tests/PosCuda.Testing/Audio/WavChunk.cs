namespace PosCuda.Testing.Audio;

/// <summary>An extra RIFF chunk for <see cref="WavBuilder"/>: a four-character id and its payload (pad byte added by the builder).</summary>
/// <param name="Id">The four-character chunk id, for example <c>LIST</c>; ASCII, exactly four characters.</param>
/// <param name="Payload">The chunk body; an odd length gets a pad byte after it.</param>
public sealed record WavChunk(string Id, byte[] Payload)
{
    /// <summary>A chunk of <paramref name="size"/> bytes counting up from <paramref name="seed"/>, so tests can see it was kept.</summary>
    public static WavChunk Filler(string id, int size, byte seed = 1)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(size);
        byte[] payload = new byte[size];
        for (int i = 0; i < size; i++)
        {
            payload[i] = unchecked((byte)(seed + i));
        }

        return new WavChunk(id, payload);
    }
}
