namespace PosCuda.Shared.Storage;

/// <summary>Bytes that replace the source's bytes at <paramref name="Offset"/> in a patched copy.</summary>
public readonly record struct ObjectPatch(long Offset, ReadOnlyMemory<byte> Bytes)
{
    /// <summary>The offset just past the patch.</summary>
    public long End => Offset + Bytes.Length;

    /// <summary>Writes the parts of <paramref name="patches"/> that fall in <c>[offset, offset + buffer.Length)</c> into <paramref name="buffer"/>.</summary>
    public static void ApplyTo(Span<byte> buffer, long offset, IReadOnlyList<ObjectPatch> patches)
    {
        ArgumentNullException.ThrowIfNull(patches);
        long end = offset + buffer.Length;
        for (int i = 0; i < patches.Count; i++)
        {
            ObjectPatch patch = patches[i];
            long from = Math.Max(patch.Offset, offset);
            long to = Math.Min(patch.End, end);
            if (from < to)
            {
                patch.Bytes.Span.Slice((int)(from - patch.Offset), (int)(to - from)).CopyTo(buffer[(int)(from - offset)..]);
            }
        }
    }
}
