using BenchmarkDotNet.Attributes;
using PosCuda.Shared.Protection;

namespace PosCuda.Benchmarks;

/// <summary>PoscudaV1.Protect on an in-memory clip: parse, decode, convolve and encode one patch per channel.</summary>
/// <remarks>Each call is one protected clip; the clip is protected again in place, which costs the same.</remarks>
[ShortRunJob]
[MemoryDiagnoser]
public class ProtectBenchmarks
{
    private readonly ProtectionParameters _parameters = new();
    private ClassPatch _patch = null!;
    private byte[] _clip = [];

    /// <summary>The clip's sample format.</summary>
    [Params("pcm16-mono", "pcm24-stereo", "float32-mono", "pcm8-mono")]
    public string Format { get; set; } = "pcm16-mono";

    /// <summary>Builds the clip and derives the patch.</summary>
    [GlobalSetup]
    public void Setup()
    {
        _patch = PoscudaV1.Instance.DeriveClassPatch(new byte[32], "7", _parameters);
        _clip = Format switch
        {
            "pcm16-mono" => BenchWav.Build(formatTag: 1, channels: 1, bytesPerSample: 2, frames: 8000),
            "pcm24-stereo" => BenchWav.Build(formatTag: 1, channels: 2, bytesPerSample: 3, frames: 8000),
            "float32-mono" => BenchWav.Build(formatTag: 3, channels: 1, bytesPerSample: 4, frames: 8000),
            "pcm8-mono" => BenchWav.Build(formatTag: 1, channels: 1, bytesPerSample: 1, frames: 8000),
            _ => throw new InvalidOperationException(Format),
        };
    }

    /// <summary>Protects the clip: one patch of 240 frames per channel.</summary>
    [Benchmark(Description = "Protect one clip (k=80, p=240)")]
    public long Protect() => PoscudaV1.Instance.Protect(_clip, _patch, _parameters, "bench.wav").ClippedSamples;
}
