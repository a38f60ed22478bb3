using BenchmarkDotNet.Attributes;
using PosCuda.Shared.Protection;

namespace PosCuda.Benchmarks;

/// <summary>The patch convolution alone: one patch of p = 240 outputs with k = 80 taps (19,200 multiply-adds).</summary>
[ShortRunJob]
[MemoryDiagnoser]
public class ConvolutionBenchmarks
{
    private const int PatchLength = 240;
    private const int Taps = 80;

    private readonly double[] _input = new double[PatchLength + Taps - 1];
    private readonly double[] _taps = new double[Taps];
    private readonly double[] _output = new double[PatchLength];

    /// <summary>Fills the input and taps with the derivation's real values for a fixed key.</summary>
    [GlobalSetup]
    public void Setup()
    {
        byte[] secret = new byte[32];
        ClassPatch patch = PoscudaV1.Instance.DeriveClassPatch(secret, "7", new ProtectionParameters());
        for (int j = 0; j < Taps; j++)
        {
            _taps[j] = patch.Taps[j];
        }

        var random = new Random(42);
        for (int i = 0; i < _input.Length; i++)
        {
            _input[i] = (random.NextDouble() * 2) - 1;
        }
    }

    /// <summary>The dispatching entry point (Vector256 where the hardware has it).</summary>
    [Benchmark(Baseline = true, Description = "Convolve per patch (k=80, p=240)")]
    public double ConvolvePatch()
    {
        PatchConvolution.Convolve(_input, _taps, _output);
        return _output[0];
    }

    /// <summary>The same, one scalar multiply-add at a time: the definition the vector paths must equal bit for bit.</summary>
    [Benchmark(Description = "Scalar loop per patch (k=80, p=240)")]
    public double ScalarPatch()
    {
        for (int n = 0; n < PatchLength; n++)
        {
            double acc = 0;
            for (int j = 0; j < Taps; j++)
            {
                acc += _taps[j] * _input[n + j];
            }

            _output[n] = acc;
        }

        return _output[0];
    }
}
