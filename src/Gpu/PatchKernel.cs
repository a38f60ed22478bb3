using ILGPU;
using ILGPU.Runtime.Cuda;

namespace PosCuda.Gpu;

/// <summary>The device kernels of the patch convolution: one thread per output sample of a tile.</summary>
/// <remarks>
/// Two bodies with the same arguments and the same indexing: <see cref="RunCuda"/> multiplies and adds with explicit
/// round-to-nearest PTX, which the CUDA JIT never fuses (see <see cref="PtxContraction"/>); <see cref="RunPortable"/> is plain
/// .NET arithmetic for ILGPU's CPU accelerator, where the .NET JIT never contracts a multiply and an add either.
/// </remarks>
internal static class PatchKernel
{
    /// <summary>Output <paramref name="index"/> of the tile on a CUDA device.</summary>
    /// <param name="index">The output sample, tile-local.</param>
    /// <param name="taps">The k taps.</param>
    /// <param name="inputs">The tile's gathered inputs, each piece with its k-1 context samples.</param>
    /// <param name="outputStarts">Each piece's first output, ascending; <paramref name="pieces"/> entries.</param>
    /// <param name="inputStarts">Each piece's first input.</param>
    /// <param name="pieces">The number of pieces in the tile.</param>
    /// <param name="outputs">The tile's outputs.</param>
    public static void RunCuda(
        Index1D index,
        ArrayView<double> taps,
        ArrayView<double> inputs,
        ArrayView<int> outputStarts,
        ArrayView<int> inputStarts,
        int pieces,
        ArrayView<double> outputs)
    {
        int x = FirstInput(index, outputStarts, inputStarts, pieces);
        int k = (int)taps.Length;
        double acc = 0;
        for (int j = 0; j < k; j++)
        {
            // acc = acc + taps[j] * x[j]: two instructions, each rounded to nearest, never contracted into fma.
            CudaAsm.Emit(
                "{ .reg .f64 p; mul.rn.f64 p, %1, %2; add.rn.f64 %0, %3, p; }",
                out double sum,
                taps[j],
                inputs[x + j],
                acc);
            acc = sum;
        }

        outputs[index] = acc;
    }

    /// <summary>Output <paramref name="index"/> of the tile on ILGPU's CPU accelerator; the same sums as <see cref="RunCuda"/>.</summary>
    public static void RunPortable(
        Index1D index,
        ArrayView<double> taps,
        ArrayView<double> inputs,
        ArrayView<int> outputStarts,
        ArrayView<int> inputStarts,
        int pieces,
        ArrayView<double> outputs)
    {
        int x = FirstInput(index, outputStarts, inputStarts, pieces);
        int k = (int)taps.Length;
        double acc = 0;
        for (int j = 0; j < k; j++)
        {
            acc += taps[j] * inputs[x + j];
        }

        outputs[index] = acc;
    }

    // The input of output t: the last piece starting at or before t, found by binary search, and t's offset in it.
    private static int FirstInput(int t, ArrayView<int> outputStarts, ArrayView<int> inputStarts, int pieces)
    {
        int low = 0;
        int high = pieces - 1;
        while (low < high)
        {
            int middle = (low + high + 1) >> 1;
            if (outputStarts[middle] <= t)
            {
                low = middle;
            }
            else
            {
                high = middle - 1;
            }
        }

        return inputStarts[low] + (t - outputStarts[low]);
    }
}
