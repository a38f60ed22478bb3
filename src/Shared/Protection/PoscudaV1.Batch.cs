using System.Buffers;
using System.Runtime.InteropServices;
using PosCuda.Shared.Audio;

namespace PosCuda.Shared.Protection;

public sealed partial class PoscudaV1
{
    // A patch longer than this (whole mode on a long clip) is not gathered: it fills a device on its own, chunk by chunk.
    private const int GatherPatchLimit = 1 << 16;

    // The outputs one engine call gathers at most (8 bytes each, plus as many inputs with their context).
    private const int GatherSamples = 1 << 22;

    /// <summary>Protects many clips of one class in place, gathering their patches into as few engine calls as memory allows.</summary>
    /// <remarks>
    /// For an engine that <see cref="IPatchEngine.PrefersBatches"/>: a batch of short positional patches becomes one device launch
    /// instead of one per clip. Every clip's bytes come out exactly as <see cref="Protect"/> writes them.
    /// </remarks>
    /// <param name="wavFiles">The clips, each a whole WAV file.</param>
    /// <param name="objectKeys">Each clip's object key, for error messages.</param>
    /// <param name="patch">The class's patch.</param>
    /// <param name="parameters">The job's parameters.</param>
    /// <returns>One outcome per clip, in order.</returns>
    public ProtectOutcome[] ProtectMany(
        IReadOnlyList<Memory<byte>> wavFiles, IReadOnlyList<string> objectKeys, ClassPatch patch, ProtectionParameters parameters)
    {
        ArgumentNullException.ThrowIfNull(wavFiles);
        ArgumentNullException.ThrowIfNull(objectKeys);
        CheckPatch(patch, parameters);
        if (wavFiles.Count != objectKeys.Count)
        {
            throw new ArgumentException($"{wavFiles.Count} files but {objectKeys.Count} keys.", nameof(objectKeys));
        }

        int k = patch.Taps.Length;
        var outcomes = new ProtectOutcome[wavFiles.Count];
        var layouts = new WavLayout?[wavFiles.Count];
        var ranges = new (long Start, long Length)[wavFiles.Count];
        long[] clipped = new long[wavFiles.Count];
        var gather = new Gather(this, patch, wavFiles, layouts, ranges, clipped);
        try
        {
            for (int i = 0; i < wavFiles.Count; i++)
            {
                WavLayout layout;
                try
                {
                    layout = WavReader.ReadLayout(wavFiles[i].Span, objectKeys[i]);
                }
                catch (InvalidObjectException e)
                {
                    outcomes[i] = new ProtectOutcome(null, e);
                    continue;
                }

                (long start, long length) = PatchRange(layout.FrameCount, patch.Position, parameters);
                if (length > GatherPatchLimit)
                {
                    outcomes[i] = new ProtectOutcome(Protect(wavFiles[i].Span, patch, parameters, objectKeys[i]), null);
                    continue;
                }

                layouts[i] = layout;
                ranges[i] = (start, length);
                for (int channel = 0; channel < layout.Channels && length > 0; channel++)
                {
                    gather.Add(i, channel, (int)length, k);
                }
            }

            gather.Flush();
            for (int i = 0; i < wavFiles.Count; i++)
            {
                if (layouts[i] is not null)
                {
                    outcomes[i] = new ProtectOutcome(new ProtectResult(ranges[i].Start, ranges[i].Length, clipped[i]), null);
                }
            }

            return outcomes;
        }
        finally
        {
            gather.Dispose();
        }
    }

    /// <summary>The patches gathered for the next engine call: which clip and channel each is, decoded on flush.</summary>
    private sealed class Gather(
        PoscudaV1 spec, ClassPatch patch, IReadOnlyList<Memory<byte>> files, WavLayout?[] layouts, (long Start, long Length)[] ranges,
        long[] clipped) : IDisposable
    {
        private readonly List<(int File, int Channel)> _items = [];
        private readonly List<PatchRegion> _regions = [];
        private double[]? _taps;
        private int _inputs;
        private int _outputs;

        public void Add(int file, int channel, int length, int k)
        {
            if (_outputs + length > GatherSamples)
            {
                Flush();
            }

            _items.Add((file, channel));
            _regions.Add(new PatchRegion(_inputs, _outputs, length));
            _inputs += length + k - 1;
            _outputs += length;
        }

        public void Flush()
        {
            if (_items.Count == 0)
            {
                return;
            }

            int k = patch.Taps.Length;
            int h = (k - 1) / 2;
            if (_taps is null)
            {
                _taps = ArrayPool<double>.Shared.Rent(k);
                for (int j = 0; j < k; j++)
                {
                    _taps[j] = patch.Taps[j];
                }
            }

            double[] inputs = ArrayPool<double>.Shared.Rent(_inputs);
            double[] outputs = ArrayPool<double>.Shared.Rent(_outputs);
            try
            {
                for (int r = 0; r < _items.Count; r++)
                {
                    (int file, int channel) = _items[r];
                    PatchRegion region = _regions[r];
                    SampleCodec.Decode(
                        files[file].Span, layouts[file]!, channel, ranges[file].Start - h,
                        inputs.AsSpan(region.InputOffset, region.Length + k - 1));
                }

                // Every input is decoded before any output is encoded, so no patch reads another's written samples.
                spec._engine.Convolve(_taps.AsSpan(0, k), inputs.AsSpan(0, _inputs), CollectionsMarshal.AsSpan(_regions), outputs.AsSpan(0, _outputs));
                for (int r = 0; r < _items.Count; r++)
                {
                    (int file, int channel) = _items[r];
                    PatchRegion region = _regions[r];
                    clipped[file] += SampleCodec.Encode(
                        files[file].Span, layouts[file]!, channel, ranges[file].Start, outputs.AsSpan(region.OutputOffset, region.Length));
                }
            }
            finally
            {
                ArrayPool<double>.Shared.Return(inputs);
                ArrayPool<double>.Shared.Return(outputs);
            }

            _items.Clear();
            _regions.Clear();
            _inputs = 0;
            _outputs = 0;
        }

        public void Dispose()
        {
            if (_taps is not null)
            {
                ArrayPool<double>.Shared.Return(_taps);
                _taps = null;
            }
        }
    }
}
