namespace Beyla.Bpf.Tests;

internal static class TestEnvironment
{
    public static bool BpfRequired => Environment.GetEnvironmentVariable("BEYLA_REQUIRE_BPF") == "1";

    public static bool IsRoot => File.ReadLines("/proc/self/status").Any(l => l.StartsWith("Uid:", StringComparison.Ordinal) && l.Split('\t', StringSplitOptions.RemoveEmptyEntries)[2] == "0");

    public static string RepoRoot { get; } = FindRepoRoot();

    public static string ServersDirectory => Path.Combine(RepoRoot, "tests", "servers");

    /// <summary>Beyla.TestServer.dll built in the same configuration as this assembly.</summary>
    public static string KestrelServerDll
    {
        get
        {
            string configuration = new DirectoryInfo(AppContext.BaseDirectory).Parent!.Name; // bin/<configuration>/net10.0/
            string path = Path.Combine(RepoRoot, "tests", "Beyla.TestServer", "bin", configuration, "net10.0", "Beyla.TestServer.dll");
            return File.Exists(path) ? path : throw new FileNotFoundException("build tests/Beyla.TestServer first", path);
        }
    }

    /// <summary>The sample agent (beyla-agent.dll) built in the same configuration as this assembly.</summary>
    public static string AgentDll
    {
        get
        {
            string configuration = new DirectoryInfo(AppContext.BaseDirectory).Parent!.Name;
            string path = Path.Combine(RepoRoot, "samples", "Beyla.Agent", "bin", configuration, "net10.0", "beyla-agent.dll");
            return File.Exists(path) ? path : throw new FileNotFoundException("build samples/Beyla.Agent first", path);
        }
    }

    /// <summary>The response-time demo (beyla-response-time-demo.dll) built in the same configuration as this assembly.</summary>
    public static string ResponseTimeDemoDll
    {
        get
        {
            string configuration = new DirectoryInfo(AppContext.BaseDirectory).Parent!.Name;
            string path = Path.Combine(RepoRoot, "samples", "Beyla.ResponseTimeDemo", "bin", configuration, "net10.0", "beyla-response-time-demo.dll");
            return File.Exists(path) ? path : throw new FileNotFoundException("build samples/Beyla.ResponseTimeDemo first", path);
        }
    }

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Beyla.sln")))
                return dir.FullName;
        }
        throw new InvalidOperationException("Beyla.sln not found above " + AppContext.BaseDirectory);
    }
}
