using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace PosCuda.Shared.Protection;

/// <summary>The patch convolution of <c>poscuda-v1</c>: a correlation with the keyed taps, accumulated in float64.</summary>
/// <remarks>
/// The vector paths run across output samples: each lane owns one <c>y[n]</c> and adds <c>taps[j] * x[n + j]</c>
/// for j = 0..k-1 in order, with a separate multiply and add (never a fused multiply-add), so every output is
/// bit-identical to the scalar loop on any hardware. That is what lets independent implementations agree exactly.
/// </remarks>
public static class PatchConvolution
{
    /// <summary>Computes <c>y[n] = sum_{j=0}^{k-1} taps[j] * x[n + j]</c> for every n, with j summed in order.</summary>
    /// <param name="x">The input with its context: <c>y.Length + taps.Length - 1</c> samples.</param>
    /// <param name="taps">The k filter taps.</param>
    /// <param name="y">The output.</param>
    public static void Convolve(ReadOnlySpan<double> x, ReadOnlySpan<double> taps, Span<double> y)
    {
        Validate(x, taps, y);
        if (Vector256.IsHardwareAccelerated)
        {
            ConvolveVector256(x, taps, y);
        }
        else if (Vector128.IsHardwareAccelerated)
        {
            ConvolveVector128(x, taps, y);
        }
        else
        {
            ConvolveScalar(x, taps, y, 0);
        }
    }

    /// <summary>The 256-bit path: 16 outputs per step in four independent accumulators, then 4, then scalar.</summary>
    internal static void ConvolveVector256(ReadOnlySpan<double> x, ReadOnlySpan<double> taps, Span<double> y)
    {
        Validate(x, taps, y);
        ref double xRef = ref MemoryMarshal.GetReference(x);
        ref double tRef = ref MemoryMarshal.GetReference(taps);
        ref double yRef = ref MemoryMarshal.GetReference(y);
        int k = taps.Length;
        int count = y.Length;
        int width = Vector256<double>.Count;
        int n = 0;

        for (; n <= count - (4 * width); n += 4 * width)
        {
            Vector256<double> acc0 = Vector256<double>.Zero;
            Vector256<double> acc1 = Vector256<double>.Zero;
            Vector256<double> acc2 = Vector256<double>.Zero;
            Vector256<double> acc3 = Vector256<double>.Zero;
            ref double window = ref Unsafe.Add(ref xRef, n);
            for (int j = 0; j < k; j++)
            {
                Vector256<double> tap = Vector256.Create(Unsafe.Add(ref tRef, j));
                ref double at = ref Unsafe.Add(ref window, j);

                // Multiply, then add: two roundings per term, exactly as the scalar loop.
                acc0 = Vector256.Add(acc0, Vector256.Multiply(tap, Vector256.LoadUnsafe(ref at)));
                acc1 = Vector256.Add(acc1, Vector256.Multiply(tap, Vector256.LoadUnsafe(ref at, (nuint)width)));
                acc2 = Vector256.Add(acc2, Vector256.Multiply(tap, Vector256.LoadUnsafe(ref at, (nuint)(2 * width))));
                acc3 = Vector256.Add(acc3, Vector256.Multiply(tap, Vector256.LoadUnsafe(ref at, (nuint)(3 * width))));
            }

            ref double output = ref Unsafe.Add(ref yRef, n);
            acc0.StoreUnsafe(ref output);
            acc1.StoreUnsafe(ref output, (nuint)width);
            acc2.StoreUnsafe(ref output, (nuint)(2 * width));
            acc3.StoreUnsafe(ref output, (nuint)(3 * width));
        }

        for (; n <= count - width; n += width)
        {
            Vector256<double> acc = Vector256<double>.Zero;
            ref double window = ref Unsafe.Add(ref xRef, n);
            for (int j = 0; j < k; j++)
            {
                Vector256<double> tap = Vector256.Create(Unsafe.Add(ref tRef, j));
                acc = Vector256.Add(acc, Vector256.Multiply(tap, Vector256.LoadUnsafe(ref Unsafe.Add(ref window, j))));
            }

            acc.StoreUnsafe(ref Unsafe.Add(ref yRef, n));
        }

        ConvolveScalar(x, taps, y, n);
    }

    /// <summary>The 128-bit path: 8 outputs per step in four independent accumulators, then 2, then scalar.</summary>
    internal static void ConvolveVector128(ReadOnlySpan<double> x, ReadOnlySpan<double> taps, Span<double> y)
    {
        Validate(x, taps, y);
        ref double xRef = ref MemoryMarshal.GetReference(x);
        ref double tRef = ref MemoryMarshal.GetReference(taps);
        ref double yRef = ref MemoryMarshal.GetReference(y);
        int k = taps.Length;
        int count = y.Length;
        int width = Vector128<double>.Count;
        int n = 0;

        for (; n <= count - (4 * width); n += 4 * width)
        {
            Vector128<double> acc0 = Vector128<double>.Zero;
            Vector128<double> acc1 = Vector128<double>.Zero;
            Vector128<double> acc2 = Vector128<double>.Zero;
            Vector128<double> acc3 = Vector128<double>.Zero;
            ref double window = ref Unsafe.Add(ref xRef, n);
            for (int j = 0; j < k; j++)
            {
                Vector128<double> tap = Vector128.Create(Unsafe.Add(ref tRef, j));
                ref double at = ref Unsafe.Add(ref window, j);
                acc0 = Vector128.Add(acc0, Vector128.Multiply(tap, Vector128.LoadUnsafe(ref at)));
                acc1 = Vector128.Add(acc1, Vector128.Multiply(tap, Vector128.LoadUnsafe(ref at, (nuint)width)));
                acc2 = Vector128.Add(acc2, Vector128.Multiply(tap, Vector128.LoadUnsafe(ref at, (nuint)(2 * width))));
                acc3 = Vector128.Add(acc3, Vector128.Multiply(tap, Vector128.LoadUnsafe(ref at, (nuint)(3 * width))));
            }

            ref double output = ref Unsafe.Add(ref yRef, n);
            acc0.StoreUnsafe(ref output);
            acc1.StoreUnsafe(ref output, (nuint)width);
            acc2.StoreUnsafe(ref output, (nuint)(2 * width));
            acc3.StoreUnsafe(ref output, (nuint)(3 * width));
        }

        for (; n <= count - width; n += width)
        {
            Vector128<double> acc = Vector128<double>.Zero;
            ref double window = ref Unsafe.Add(ref xRef, n);
            for (int j = 0; j < k; j++)
            {
                Vector128<double> tap = Vector128.Create(Unsafe.Add(ref tRef, j));
                acc = Vector128.Add(acc, Vector128.Multiply(tap, Vector128.LoadUnsafe(ref Unsafe.Add(ref window, j))));
            }

            acc.StoreUnsafe(ref Unsafe.Add(ref yRef, n));
        }

        ConvolveScalar(x, taps, y, n);
    }

    /// <summary>The scalar definition, for outputs from <paramref name="first"/> on.</summary>
    internal static void ConvolveScalar(ReadOnlySpan<double> x, ReadOnlySpan<double> taps, Span<double> y, int first)
    {
        for (int n = first; n < y.Length; n++)
        {
            ReadOnlySpan<double> window = x.Slice(n, taps.Length);
            double acc = 0;
            for (int j = 0; j < taps.Length; j++)
            {
                acc += taps[j] * window[j];
            }

            y[n] = acc;
        }
    }

    private static void Validate(ReadOnlySpan<double> x, ReadOnlySpan<double> taps, Span<double> y)
    {
        if (taps.IsEmpty)
        {
            throw new ArgumentException("The filter needs at least one tap.", nameof(taps));
        }

        if (x.Length != y.Length + taps.Length - 1)
        {
            throw new ArgumentException(
                $"The input holds {x.Length} samples; {y.Length} outputs of {taps.Length} taps need {y.Length + taps.Length - 1}.",
                nameof(x));
        }
    }
}
