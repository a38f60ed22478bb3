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
        => ConvolveVector<Lanes256>(x, taps, y);

    /// <summary>The 128-bit path: 8 outputs per step in four independent accumulators, then 2, then scalar.</summary>
    internal static void ConvolveVector128(ReadOnlySpan<double> x, ReadOnlySpan<double> taps, Span<double> y)
        => ConvolveVector<Lanes128>(x, taps, y);

    /// <summary>The vector body, one for every width: four vectors of outputs per step, then one, then scalar.</summary>
    private static void ConvolveVector<TLanes>(ReadOnlySpan<double> x, ReadOnlySpan<double> taps, Span<double> y)
        where TLanes : struct, ILanes<TLanes>
    {
        Validate(x, taps, y);
        ref double xRef = ref MemoryMarshal.GetReference(x);
        ref double tRef = ref MemoryMarshal.GetReference(taps);
        ref double yRef = ref MemoryMarshal.GetReference(y);
        int k = taps.Length;
        int count = y.Length;
        int width = TLanes.Count;
        nuint w1 = (nuint)width;
        nuint w2 = (nuint)(2 * width);
        nuint w3 = (nuint)(3 * width);
        int n = 0;

        for (; n <= count - (4 * width); n += 4 * width)
        {
            TLanes acc0 = default;
            TLanes acc1 = default;
            TLanes acc2 = default;
            TLanes acc3 = default;
            ref double window = ref Unsafe.Add(ref xRef, n);
            for (int j = 0; j < k; j++)
            {
                TLanes tap = TLanes.Broadcast(Unsafe.Add(ref tRef, j));
                ref double at = ref Unsafe.Add(ref window, j);

                // Multiply, then add: two roundings per term, exactly as the scalar loop.
                acc0 = TLanes.Add(acc0, TLanes.Multiply(tap, TLanes.Load(ref at, 0)));
                acc1 = TLanes.Add(acc1, TLanes.Multiply(tap, TLanes.Load(ref at, w1)));
                acc2 = TLanes.Add(acc2, TLanes.Multiply(tap, TLanes.Load(ref at, w2)));
                acc3 = TLanes.Add(acc3, TLanes.Multiply(tap, TLanes.Load(ref at, w3)));
            }

            ref double output = ref Unsafe.Add(ref yRef, n);
            TLanes.Store(acc0, ref output, 0);
            TLanes.Store(acc1, ref output, w1);
            TLanes.Store(acc2, ref output, w2);
            TLanes.Store(acc3, ref output, w3);
        }

        for (; n <= count - width; n += width)
        {
            TLanes acc = default;
            ref double window = ref Unsafe.Add(ref xRef, n);
            for (int j = 0; j < k; j++)
            {
                acc = TLanes.Add(acc, TLanes.Multiply(TLanes.Broadcast(Unsafe.Add(ref tRef, j)), TLanes.Load(ref Unsafe.Add(ref window, j), 0)));
            }

            TLanes.Store(acc, ref Unsafe.Add(ref yRef, n), 0);
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

    /// <summary>One vector width's operations, so that one generic body serves every width (specialised per struct by the JIT).</summary>
    private interface ILanes<TSelf>
        where TSelf : struct, ILanes<TSelf>
    {
        static abstract int Count { get; }

        static abstract TSelf Broadcast(double value);

        static abstract TSelf Load(ref double source, nuint offset);

        static abstract void Store(TSelf value, ref double destination, nuint offset);

        static abstract TSelf Add(TSelf left, TSelf right);

        static abstract TSelf Multiply(TSelf left, TSelf right);
    }

    // default(Lanes256) is all zeros: the accumulators' start.
    private readonly struct Lanes256 : ILanes<Lanes256>
    {
        private readonly Vector256<double> _value;

        private Lanes256(Vector256<double> value) => _value = value;

        public static int Count => Vector256<double>.Count;

        public static Lanes256 Broadcast(double value) => new(Vector256.Create(value));

        public static Lanes256 Load(ref double source, nuint offset) => new(Vector256.LoadUnsafe(ref source, offset));

        public static void Store(Lanes256 value, ref double destination, nuint offset) => value._value.StoreUnsafe(ref destination, offset);

        public static Lanes256 Add(Lanes256 left, Lanes256 right) => new(Vector256.Add(left._value, right._value));

        public static Lanes256 Multiply(Lanes256 left, Lanes256 right) => new(Vector256.Multiply(left._value, right._value));
    }

    private readonly struct Lanes128 : ILanes<Lanes128>
    {
        private readonly Vector128<double> _value;

        private Lanes128(Vector128<double> value) => _value = value;

        public static int Count => Vector128<double>.Count;

        public static Lanes128 Broadcast(double value) => new(Vector128.Create(value));

        public static Lanes128 Load(ref double source, nuint offset) => new(Vector128.LoadUnsafe(ref source, offset));

        public static void Store(Lanes128 value, ref double destination, nuint offset) => value._value.StoreUnsafe(ref destination, offset);

        public static Lanes128 Add(Lanes128 left, Lanes128 right) => new(Vector128.Add(left._value, right._value));

        public static Lanes128 Multiply(Lanes128 left, Lanes128 right) => new(Vector128.Multiply(left._value, right._value));
    }
}
