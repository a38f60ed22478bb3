namespace PosCuda.Shared.Analysis;

/// <summary>Computes log-mel spectrograms and MFCCs of mono signals at one analysis rate.</summary>
/// <remarks>
/// Log-mel: Hann-windowed frames (<see cref="LogMelSettings"/>), power spectrum, triangular HTK mel filters, natural
/// log of the band energy floored at 1e-10. MFCC: the orthonormal DCT-II of a log-mel frame. Not thread-safe: use one
/// analyzer per thread.
/// </remarks>
public sealed class LogMelAnalyzer
{
    /// <summary>The floor under band energies before the log (ln 1e-10 = -23).</summary>
    public const double EnergyFloor = 1e-10;

    private readonly PowerSpectrogram _spectrogram;
    private readonly MelFilterBank _filters;
    private readonly double[] _power;

    /// <summary>Creates an analyzer for <paramref name="settings"/>.</summary>
    public LogMelAnalyzer(LogMelSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        Settings = settings;
        _spectrogram = new PowerSpectrogram(settings.FrameLength, settings.Hop, settings.FftSize);
        _filters = new MelFilterBank(settings.Bands, settings.FftSize, settings.SampleRate, settings.MinHz, settings.UpperHz);
        _power = new double[_spectrogram.Bins];
    }

    /// <summary>The settings.</summary>
    public LogMelSettings Settings { get; }

    /// <summary>The spectrogram the analyzer frames signals with.</summary>
    public PowerSpectrogram Spectrogram => _spectrogram;

    /// <summary>The log-mel spectrogram, frames x bands, row-major.</summary>
    public double[] LogMel(ReadOnlySpan<double> samples, out int frames)
    {
        frames = _spectrogram.FrameCount(samples.Length);
        int bands = Settings.Bands;
        var result = new double[frames * bands];
        for (int f = 0; f < frames; f++)
        {
            _spectrogram.Frame(samples, f * _spectrogram.Hop, _power);
            Span<double> row = result.AsSpan(f * bands, bands);
            _filters.Apply(_power, row);
            for (int b = 0; b < bands; b++)
            {
                row[b] = Math.Log(Math.Max(row[b], EnergyFloor));
            }
        }

        return result;
    }

    /// <summary>Writes the first <c>coefficients.Length</c> orthonormal DCT-II coefficients of a log-mel frame.</summary>
    public static void Mfcc(ReadOnlySpan<double> logMel, Span<double> coefficients)
    {
        int n = logMel.Length;
        for (int k = 0; k < coefficients.Length; k++)
        {
            double sum = 0;
            for (int i = 0; i < n; i++)
            {
                sum += logMel[i] * Math.Cos(Math.PI * k * ((2 * i) + 1) / (2.0 * n));
            }

            coefficients[k] = sum * Math.Sqrt((k == 0 ? 1.0 : 2.0) / n);
        }
    }
}
