namespace Beyla.Tests.Support;

/// <summary>Finds the repository root: the first directory above the test binaries that holds Beyla.sln.</summary>
internal static class RepositoryRoot
{
    public static string Find()
    {
        for (DirectoryInfo? dir = new(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Beyla.sln")))
                return dir.FullName;
        }
        throw new InvalidOperationException($"no Beyla.sln above {AppContext.BaseDirectory}");
    }
}
