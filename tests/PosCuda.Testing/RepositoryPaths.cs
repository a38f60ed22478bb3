namespace PosCuda.Testing;

/// <summary>Paths inside this repository, found from the test assembly's location.</summary>
public static class RepositoryPaths
{
    private static readonly Lazy<string> s_root = new(FindRoot);

    /// <summary>The repository root (the folder holding PosCuda.Pipeline.sln).</summary>
    public static string Root => s_root.Value;

    /// <summary>The bundled FSDD sample (100 clips).</summary>
    public static string Sample => Path.Combine(Root, "samples", "fsdd");

    private static string FindRoot()
    {
        for (DirectoryInfo? dir = new(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "PosCuda.Pipeline.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"No PosCuda.Pipeline.sln above {AppContext.BaseDirectory}.");
    }
}
