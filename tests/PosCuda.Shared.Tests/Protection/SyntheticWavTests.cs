namespace PosCuda.Shared.Tests.Protection;

public sealed class SyntheticWavTests
{
    public static TheoryData<string> Names => new(SyntheticWav.Names);

    [Theory]
    [MemberData(nameof(Names))]
    public void Build_Always_EqualsCommittedVectorInput(string name)
    {
        byte[] expected = SyntheticWav.Build(name);
        string path = Path.Combine(AppContext.BaseDirectory, "TestData", "vectors", name);
        byte[]? committed = File.Exists(path) ? File.ReadAllBytes(path) : null;
        if (committed is null || !committed.AsSpan().SequenceEqual(expected))
        {
            string written = Path.Combine(Path.GetTempPath(), "poscuda-vectors", name);
            Directory.CreateDirectory(Path.GetDirectoryName(written)!);
            File.WriteAllBytes(written, expected);
            Assert.Fail($"TestData/vectors/{name} differs from what the generator builds; the generator's output is at {written}.");
        }
    }
}
