using ILGPU;
using ILGPU.Backends;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.PTX;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using ILGPU.Runtime.Cuda;
using PosCuda.Shared.Protection;

namespace PosCuda.Gpu;

/// <summary>The patch convolution on an ILGPU accelerator (CUDA, or ILGPU's CPU accelerator): one kernel launch per tile of patches.</summary>
/// <remarks>
/// A call's patches are gathered into one page-locked staging buffer and one device buffer, both allocated once and reused, and
/// convolved by one launch with one thread per output sample; results come back through a second staging buffer and are
/// scattered to the callers' outputs. Patches longer than a tile (<c>whole</c> mode on long clips) are split across tiles, so
/// device memory stays bounded whatever the clip length. Calls are serialised: one accelerator stream per engine.
/// Outputs are bit-identical to <see cref="CpuSimdPatchEngine"/>: on CUDA the kernel multiplies and adds with explicit
/// round-to-nearest PTX, which is never fused (<see cref="PtxContraction"/>).
/// </remarks>
public sealed class IlgpuPatchEngine : IPatchEngine, IDisposable
{
    /// <summary>The outputs one launch covers by default (16 MiB of float64 outputs, 32 MiB of inputs).</summary>
    public const int DefaultTileOutputs = 1 << 21;

    private const int MaxTaps = 2040;

    private readonly Context _context;
    private readonly Accelerator _accelerator;
    private readonly AcceleratorStream _stream;
    private readonly Action<AcceleratorStream, Index1D, ArrayView<double>, ArrayView<double>, ArrayView<int>, ArrayView<int>, int, ArrayView<double>> _launch;
    private readonly Lock _gate = new();
    private readonly int _tileOutputs;
    private readonly int _tileInputs;
    private readonly int _tilePieces;
    private readonly MemoryBuffer1D<double, Stride1D.Dense> _taps;
    private readonly MemoryBuffer1D<double, Stride1D.Dense> _inputs;
    private readonly MemoryBuffer1D<double, Stride1D.Dense> _outputs;
    private readonly MemoryBuffer1D<int, Stride1D.Dense> _outputStarts;
    private readonly MemoryBuffer1D<int, Stride1D.Dense> _inputStarts;
    private readonly PageLockedArray1D<double> _stagedInputs;
    private readonly PageLockedArray1D<double> _stagedOutputs;
    private readonly int[] _hostOutputStarts;
    private readonly int[] _hostInputStarts;
    private readonly (int Output, int Length)[] _scatter;
    private bool _disposed;

    private IlgpuPatchEngine(Context context, Accelerator accelerator, string name, bool onGpu, int tileOutputs)
    {
        _context = context;
        _accelerator = accelerator;
        Name = name;
        IsGpu = onGpu;
        _tileOutputs = tileOutputs;
        _tileInputs = 2 * tileOutputs;
        _tilePieces = Math.Max(1, tileOutputs / 16);
        try
        {
            _stream = accelerator.CreateStream();
            _launch = LoadKernel(accelerator);
            _taps = accelerator.Allocate1D<double>(MaxTaps);
            _inputs = accelerator.Allocate1D<double>(_tileInputs);
            _outputs = accelerator.Allocate1D<double>(_tileOutputs);
            _outputStarts = accelerator.Allocate1D<int>(_tilePieces);
            _inputStarts = accelerator.Allocate1D<int>(_tilePieces);
            _stagedInputs = accelerator.AllocatePageLocked1D<double>(_tileInputs);
            _stagedOutputs = accelerator.AllocatePageLocked1D<double>(_tileOutputs);
            _hostOutputStarts = new int[_tilePieces];
            _hostInputStarts = new int[_tilePieces];
            _scatter = new (int, int)[_tilePieces];
        }
        catch
        {
            accelerator.Dispose();
            context.Dispose();
            throw;
        }
    }

    /// <inheritdoc/>
    public string Name { get; }

    /// <inheritdoc/>
    public bool PrefersBatches => true;

    /// <summary>True when the accelerator is a GPU (CUDA), false for ILGPU's CPU accelerator.</summary>
    public bool IsGpu { get; }

    /// <summary>True when ILGPU finds a CUDA device on this machine.</summary>
    public static bool CudaAvailable()
    {
        using Context context = Context.Create(builder => builder.Cuda());
        return context.GetCudaDevices().Count > 0;
    }

    /// <summary>An engine on the first CUDA device.</summary>
    /// <exception cref="InvalidOperationException">No CUDA device was found.</exception>
    public static IlgpuPatchEngine CreateCuda(int tileOutputs = DefaultTileOutputs)
    {
        CheckTile(tileOutputs);
        Context context = Context.Create(builder => builder.Cuda().Math(MathMode.Default).Optimize(OptimizationLevel.O1));
        if (context.GetCudaDevices().Count == 0)
        {
            context.Dispose();
            throw new InvalidOperationException("No CUDA device found (ILGPU sees none: no NVIDIA driver, or no GPU).");
        }

        CudaAccelerator accelerator;
        try
        {
            accelerator = context.CreateCudaAccelerator(0);
        }
        catch
        {
            context.Dispose();
            throw;
        }

        return new IlgpuPatchEngine(context, accelerator, $"ilgpu-cuda ({accelerator.Name})", onGpu: true, tileOutputs);
    }

    /// <summary>An engine on ILGPU's CPU accelerator: the same kernel, run by CPU threads (for machines without a GPU, and CI).</summary>
    public static IlgpuPatchEngine CreateCpu(int tileOutputs = DefaultTileOutputs)
    {
        CheckTile(tileOutputs);
        Context context = Context.Create(builder => builder.CPU().Math(MathMode.Default).Optimize(OptimizationLevel.O1));
        CPUAccelerator accelerator;
        try
        {
            accelerator = context.CreateCPUAccelerator(0);
        }
        catch
        {
            context.Dispose();
            throw;
        }

        return new IlgpuPatchEngine(context, accelerator, "ilgpu-cpu", onGpu: false, tileOutputs);
    }

    /// <summary>The PTX of the kernel for <paramref name="architecture"/>, generated without a GPU, exactly as a CUDA engine loads it.</summary>
    public static string GeneratePtx(CudaArchitecture architecture)
    {
        using Context context = Context.Create(builder => builder.Math(MathMode.Default).Optimize(OptimizationLevel.O1));
        using var backend = new PTXBackend(
            context, new CudaCapabilityContext(architecture), architecture, CudaInstructionSet.ISA_80, nvvmAPI: null);
        return ((PTXCompiledKernel)Compile(backend, cuda: true)).PTXAssembly;
    }

    /// <inheritdoc/>
    public void Convolve(ReadOnlySpan<double> taps, ReadOnlySpan<double> inputs, ReadOnlySpan<PatchRegion> regions, Span<double> outputs)
    {
        int k = taps.Length;
        if (k is < 1 or > MaxTaps)
        {
            throw new ArgumentOutOfRangeException(nameof(taps), k, $"The filter needs 1..{MaxTaps} taps.");
        }

        int context = k - 1;
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _taps.View.SubView(0, k).CopyFromCPU(_stream, taps);
            Span<double> staged = _stagedInputs.Span;
            int pieces = 0;
            int outputCount = 0;
            int inputCount = 0;
            foreach (PatchRegion region in regions)
            {
                CheckRegion(region, k, inputs.Length, outputs.Length);
                int done = 0;
                while (done < region.Length)
                {
                    int room = Math.Min(_tileOutputs - outputCount, _tileInputs - inputCount - context);
                    if (room <= 0 || pieces == _tilePieces)
                    {
                        Launch(k, pieces, inputCount, outputCount, outputs);
                        (pieces, outputCount, inputCount) = (0, 0, 0);
                        continue;
                    }

                    int length = Math.Min(region.Length - done, room);
                    inputs.Slice(region.InputOffset + done, length + context).CopyTo(staged[inputCount..]);
                    _hostOutputStarts[pieces] = outputCount;
                    _hostInputStarts[pieces] = inputCount;
                    _scatter[pieces] = (region.OutputOffset + done, length);
                    pieces++;
                    outputCount += length;
                    inputCount += length + context;
                    done += length;
                }
            }

            if (pieces > 0)
            {
                Launch(k, pieces, inputCount, outputCount, outputs);
            }
        }
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
        }

        _stagedInputs.Dispose();
        _stagedOutputs.Dispose();
        _taps.Dispose();
        _inputs.Dispose();
        _outputs.Dispose();
        _outputStarts.Dispose();
        _inputStarts.Dispose();
        _stream.Dispose();
        _accelerator.Dispose();
        _context.Dispose();
    }

    // One tile: inputs and piece tables to the device, one launch, outputs back, scattered to the callers' places.
    private void Launch(int k, int pieces, int inputCount, int outputCount, Span<double> outputs)
    {
        _inputs.View.SubView(0, inputCount).CopyFromCPU(_stream, ref _stagedInputs.Span[0], inputCount);
        _outputStarts.View.SubView(0, pieces).CopyFromCPU(_stream, _hostOutputStarts.AsSpan(0, pieces));
        _inputStarts.View.SubView(0, pieces).CopyFromCPU(_stream, _hostInputStarts.AsSpan(0, pieces));
        _launch(
            _stream, outputCount, _taps.View.SubView(0, k), _inputs.View.SubView(0, inputCount),
            _outputStarts.View.SubView(0, pieces), _inputStarts.View.SubView(0, pieces), pieces, _outputs.View.SubView(0, outputCount));
        _outputs.View.SubView(0, outputCount).CopyToCPU(_stream, ref _stagedOutputs.Span[0], outputCount);
        _stream.Synchronize();
        ReadOnlySpan<double> results = _stagedOutputs.Span;
        for (int p = 0; p < pieces; p++)
        {
            (int output, int length) = _scatter[p];
            results.Slice(_hostOutputStarts[p], length).CopyTo(outputs.Slice(output, length));
        }
    }

    private static Action<AcceleratorStream, Index1D, ArrayView<double>, ArrayView<double>, ArrayView<int>, ArrayView<int>, int, ArrayView<double>> LoadKernel(
        Accelerator accelerator)
    {
        CompiledKernel compiled = Compile(accelerator.GetBackend(), accelerator.AcceleratorType == AcceleratorType.Cuda);
        if (compiled is PTXCompiledKernel ptx && PtxContraction.ContractibleInstructions(ptx.PTXAssembly) is { Count: > 0 } risky)
        {
            // The driver's JIT could fuse these into fma and break bit-exactness; never load such a module.
            throw new InvalidOperationException(
                $"The patch kernel's PTX holds instructions the CUDA JIT may fuse ({string.Join(", ", risky.Distinct())}); refusing to load it.");
        }

        Kernel kernel = accelerator.LoadAutoGroupedKernel(compiled);
        return kernel.CreateLauncherDelegate<
            Action<AcceleratorStream, Index1D, ArrayView<double>, ArrayView<double>, ArrayView<int>, ArrayView<int>, int, ArrayView<double>>>();
    }

    private static CompiledKernel Compile(Backend backend, bool cuda)
    {
        EntryPointDescription entry = EntryPointDescription.FromImplicitlyGroupedKernel(
            typeof(PatchKernel).GetMethod(cuda ? nameof(PatchKernel.RunCuda) : nameof(PatchKernel.RunPortable))!);
        return backend.Compile(entry, default(KernelSpecialization));
    }

    private static void CheckTile(int tileOutputs) => ArgumentOutOfRangeException.ThrowIfLessThan(tileOutputs, 2 * MaxTaps);

    private static void CheckRegion(PatchRegion region, int k, int inputLength, int outputLength)
    {
        if (region.Length < 0 || region.InputOffset < 0 || region.OutputOffset < 0
            || (long)region.InputOffset + region.Length + k - 1 > inputLength || (long)region.OutputOffset + region.Length > outputLength)
        {
            throw new ArgumentException($"The region {region} lies outside the batch's buffers (k = {k}).", nameof(region));
        }
    }
}
