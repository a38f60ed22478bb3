using MathNet.Numerics.IntegralTransforms;

namespace PosCuda.Shared.Analysis;

/// <summary>Short-time power spectra: Hann-windowed frames, real FFT (MathNet.Numerics), |X|^2 per bin.</summary>
/// <remarks>Not thread-safe: it reuses its buffers; use one per thread.</remarks>
public sealed class PowerSpectrogram
{
    private readonly double[] _window;
    private readonly double[] _buffer;

    /// <summary>Creates a spectrogram of frames of <paramref name="frameLength"/> samples every <paramref name="hop"/>,
    /// zero-padded to <paramref name="fftSize"/>.</summary>
    public PowerSpectrogram(int frameLength, int hop, int fftSize)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(frameLength, 2);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(hop);
        ArgumentOutOfRangeException.ThrowIfLessThan(fftSize, frameLength);
        if ((fftSize & 1) != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(fftSize), fftSize, "The FFT size must be even.");
        }

        FrameLength = frameLength;
        Hop = hop;
        FftSize = fftSize;
        _window = new double[frameLength];
        for (int i = 0; i < frameLength; i++)
        {
            // Periodic Hann window.
            _window[i] = 0.5 - (0.5 * Math.Cos(2 * Math.PI * i / frameLength));
        }

        _buffer = new double[fftSize + 2];
    }

    /// <summary>Samples per frame.</summary>
    public int FrameLength { get; }

    /// <summary>Samples between frame starts.</summary>
    public int Hop { get; }

    /// <summary>FFT length.</summary>
    public int FftSize { get; }

    /// <summary>Frequency bins per frame: <c>FftSize / 2 + 1</c>.</summary>
    public int Bins => (FftSize / 2) + 1;

    /// <summary>The number of frames for <paramref name="samples"/> samples: <c>1 + floor((N - L) / hop)</c>, at least 1
    /// (a clip shorter than a frame is one zero-padded frame).</summary>
    public int FrameCount(int samples) => samples <= FrameLength ? 1 : 1 + ((samples - FrameLength) / Hop);

    /// <summary>Writes the power spectrum of the frame starting at <paramref name="start"/> into <paramref name="power"/>
    /// (<see cref="Bins"/> values); samples past the end count as zero.</summary>
    public void Frame(ReadOnlySpan<double> samples, int start, Span<double> power)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(power.Length, Bins);
        Array.Clear(_buffer);
        int available = Math.Clamp(samples.Length - start, 0, FrameLength);
        for (int i = 0; i < available; i++)
        {
            _buffer[i] = samples[start + i] * _window[i];
        }

        Fourier.ForwardReal(_buffer, FftSize, FourierOptions.NoScaling);
        for (int k = 0; k < Bins; k++)
        {
            double re = _buffer[2 * k];
            double im = _buffer[(2 * k) + 1];
            power[k] = (re * re) + (im * im);
        }
    }
}
