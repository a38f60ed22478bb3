using System.Diagnostics;
using System.Security.Cryptography;
using PosCuda.Gpu;
using PosCuda.Shared.Protection;

namespace PosCuda.Benchmarks;

/// <summary>
/// <c>gpu</c>: the CPU SIMD engine against the ILGPU engine (CUDA when found, else ILGPU's CPU accelerator), in memory (no I/O):
/// patches/s and clips/s, positional on FSDD-like clips and <c>whole</c> on long synthetic clips, and a byte-compare of outputs.
/// </summary>
/// <remarks>
/// The CPU engine protects clips on every core at once (as a worker's parallel objects do); the ILGPU engine protects each batch
/// with one gathered call (<see cref="PoscudaV1.ProtectMany"/>), batch after batch, as a worker with a device does. Clips are
/// generated, so the run needs no dataset. Usage: <c>gpu-bench [SECONDS per measurement, default 3]</c>.
/// </remarks>
internal static class GpuBench
{
    private const int FsddClips = 3000;
    private const int BatchSize = 150;

    public static int Run(string[] args)
    {
        double seconds = args.Length > 0 ? double.Parse(args[0], System.Globalization.CultureInfo.InvariantCulture) : 3;
        bool driver = PatchEngines.CudaDriverPresent();
        bool cuda = driver && IlgpuPatchEngine.CudaAvailable();
        Console.WriteLine(cuda
            ? "cuda: device found; the ILGPU engine runs on it"
            : $"cuda: no device found ({(driver ? "driver loads, ILGPU sees no device" : "no CUDA driver library")}); the ILGPU engine runs on ILGPU's CPU accelerator");
        using IlgpuPatchEngine ilgpu = cuda ? IlgpuPatchEngine.CreateCuda() : IlgpuPatchEngine.CreateCpu();
        Console.WriteLine($"engines: cpu-simd on {Environment.ProcessorCount} cores vs {ilgpu.Name}; {seconds:0.#} s per measurement");

        byte[] secret = RandomNumberGenerator.GetBytes(32);
        var random = new Random(2026);

        // FSDD-like: 8 kHz mono 16-bit, 0.15 to 1.2 s (FSDD averages about 0.44 s), positional p = 240 (30 ms), k = 80.
        byte[][] fsdd = new byte[FsddClips][];
        for (int i = 0; i < FsddClips; i++)
        {
            fsdd[i] = BenchWav.Build(1, 1, 2, random.Next(1200, 9600));
        }

        // Long: a minute of 48 kHz mono 16-bit (2.88 M frames) in whole mode, k = 80: 230 M multiply-adds per clip.
        // ILGPU's CPU accelerator emulates a GPU's threads and manages some 17 M multiply-adds/s: one clip keeps it in bounds.
        byte[][] longClips = new byte[cuda ? 8 : 1][];
        for (int i = 0; i < longClips.Length; i++)
        {
            longClips[i] = BenchWav.Build(1, 1, 2, 2_880_000 + (i * 1000));
        }

        Console.WriteLine();
        Console.WriteLine("| workload | engine | clips/s | patches/s | MMAC/s | output SHA-256 (first 16) |");
        Console.WriteLine("| --- | --- | ---: | ---: | ---: | --- |");
        var positional = new ProtectionParameters();
        var whole = new ProtectionParameters(mode: PatchMode.Whole);
        string cpuFsdd = Measure("positional, FSDD-like 8 kHz", fsdd, positional, secret, null, seconds);
        string gpuFsdd = Measure("positional, FSDD-like 8 kHz", fsdd, positional, secret, ilgpu, seconds);
        string cpuLong = Measure("whole, 60 s at 48 kHz", longClips, whole, secret, null, seconds);
        string gpuLong = Measure("whole, 60 s at 48 kHz", longClips, whole, secret, ilgpu, seconds);

        Console.WriteLine();
        PatchCost(secret, seconds);
        bool same = cpuFsdd == gpuFsdd && cpuLong == gpuLong;
        Console.WriteLine($"byte-compare cpu-simd vs {ilgpu.Name}: positional {(cpuFsdd == gpuFsdd ? "identical" : "DIFFERENT")} ({FsddClips} clips), "
            + $"whole {(cpuLong == gpuLong ? "identical" : "DIFFERENT")} ({longClips.Length} clips)");
        return same ? 0 : 1;
    }

    // Protects every clip (a fresh copy each round) until the time is up; prints a row; returns the SHA-256 of one round's outputs.
    private static string Measure(string workload, byte[][] clips, ProtectionParameters parameters, byte[] secret, IPatchEngine? engine, double seconds)
    {
        PoscudaV1 spec = engine is null ? PoscudaV1.Instance : PoscudaV1.WithEngine(engine);
        ClassPatch patch = spec.DeriveClassPatch(secret, "7", parameters);
        byte[][] work = new byte[clips.Length][];
        long samples = 0;
        foreach (byte[] clip in clips)
        {
            long frames = (clip.Length - 44) / 2;
            samples += PoscudaV1.PatchRange(frames, patch.Position, parameters).Length;
        }

        string hash = "";
        int rounds = 0;
        var clock = Stopwatch.StartNew();
        TimeSpan busy = TimeSpan.Zero;
        do
        {
            for (int i = 0; i < clips.Length; i++)
            {
                work[i] = (byte[])clips[i].Clone();
            }

            long started = Stopwatch.GetTimestamp();
            if (engine is null)
            {
                Parallel.For(0, work.Length, i => spec.Protect(work[i], patch, parameters, "clip.wav"));
            }
            else
            {
                for (int first = 0; first < work.Length; first += BatchSize)
                {
                    int count = Math.Min(BatchSize, work.Length - first);
                    var files = new Memory<byte>[count];
                    var keys = new string[count];
                    for (int i = 0; i < count; i++)
                    {
                        files[i] = work[first + i];
                        keys[i] = "clip.wav";
                    }

                    spec.ProtectMany(files, keys, patch, parameters);
                }
            }

            busy += Stopwatch.GetElapsedTime(started);
            rounds++;
            if (rounds == 1)
            {
                using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
                foreach (byte[] clip in work)
                {
                    sha.AppendData(clip);
                }

                hash = Convert.ToHexStringLower(sha.GetHashAndReset());
            }
        }
        while (clock.Elapsed.TotalSeconds < seconds);

        double clipsPerSecond = rounds * clips.Length / busy.TotalSeconds;
        double macs = (double)rounds * samples * parameters.Taps / busy.TotalSeconds / 1e6;
        string rate = clipsPerSecond >= 100 ? clipsPerSecond.ToString("N0") : clipsPerSecond.ToString("G3");
        Console.WriteLine($"| {workload} | {engine?.Name ?? CpuSimdPatchEngine.EngineName} | {rate} | {rate} | {macs:N0} | {hash[..16]} |");
        return hash;
    }

    // One 30 ms patch (p = 240, k = 80: 19,200 multiply-adds) on one core, the engine call alone.
    private static void PatchCost(byte[] secret, double seconds)
    {
        ClassPatch patch = PoscudaV1.Instance.DeriveClassPatch(secret, "7", new ProtectionParameters());
        double[] taps = Array.ConvertAll(patch.Taps, t => (double)t);
        double[] x = new double[240 + 79];
        for (int i = 0; i < x.Length; i++)
        {
            x[i] = Math.Sin(i * 0.1);
        }

        double[] y = new double[240];
        PatchRegion[] region = [new PatchRegion(0, 0, 240)];
        long calls = 0;
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed.TotalSeconds < seconds / 2)
        {
            for (int i = 0; i < 1000; i++)
            {
                CpuSimdPatchEngine.Instance.Convolve(taps, x, region, y);
            }

            calls += 1000;
        }

        Console.WriteLine($"cpu-simd, one core: {clock.Elapsed.TotalMicroseconds / calls:0.00} us per 30 ms patch (p = 240, k = 80, 19,200 multiply-adds)");

        // Long regions on one core, at the default k and the largest: what a GPU has to beat per core.
        foreach (int k in (int[])[80, 2040])
        {
            double[] longTaps = new double[k];
            Array.Copy(taps, longTaps, Math.Min(k, taps.Length));
            double[] longX = new double[(1 << 18) + k - 1];
            double[] longY = new double[1 << 18];
            PatchRegion[] whole = [new PatchRegion(0, 0, longY.Length)];
            long rounds = 0;
            clock.Restart();
            while (clock.Elapsed.TotalSeconds < seconds / 2)
            {
                CpuSimdPatchEngine.Instance.Convolve(longTaps, longX, whole, longY);
                rounds++;
            }

            double rate = rounds * (double)longY.Length / clock.Elapsed.TotalSeconds;
            Console.WriteLine($"cpu-simd, one core, whole-clip regions, k = {k}: {rate / 1e6:N1} M samples/s ({rate * k / 1e9:N1} G multiply-adds/s)");
        }
    }
}
