namespace PosCuda.Pipeline.Tests.Distributed;

/// <summary>One clip of a test corpus: its key under the source prefix, its class, its bytes and the ETag S3 gave it.</summary>
public sealed record SampleClip(string Key, string Label, byte[] Bytes, string ETag);
