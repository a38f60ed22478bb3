using BenchmarkDotNet.Attributes;
using PosCuda.Shared.Protection;

namespace PosCuda.Benchmarks;

/// <summary>One FSDD-sized clip (3,500 frames of 8 kHz 16-bit mono, the corpus's mean) under each spec version.</summary>
/// <remarks>v1 convolves one 240-sample patch; v2 analyses and resynthesises the whole clip (about 28 STFT frames).</remarks>
[ShortRunJob]
[MemoryDiagnoser]
public class SpecCostBenchmarks
{
    private ProtectionParameters _parameters = null!;
    private IProtectionSpec _spec = null!;
    private ClassPatch _patch = null!;
    private byte[] _clip = [];

    /// <summary>The spec version.</summary>
    [Params(PoscudaV1.SpecName, PoscudaV2.SpecName)]
    public string Spec { get; set; } = PoscudaV1.SpecName;

    /// <summary>Builds the clip and derives the class.</summary>
    [GlobalSetup]
    public void Setup()
    {
        _parameters = new ProtectionParameters(spec: Spec);
        _spec = ProtectionSpecs.Get(Spec);
        _patch = _spec.DeriveClassPatch(new byte[32], "7", _parameters);
        _clip = BenchWav.Build(formatTag: 1, channels: 1, bytesPerSample: 2, frames: 3500);
    }

    /// <summary>Protects the clip in place.</summary>
    [Benchmark(Description = "Protect one 3,500-frame clip")]
    public long Protect() => _spec.Protect(_clip, _patch, _parameters, "bench.wav").PatchLength;
}
