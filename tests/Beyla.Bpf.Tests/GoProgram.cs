using System.Diagnostics;

namespace Beyla.Bpf.Tests;

/// <summary>
/// tests/servers/go_http built with the machine's Go toolchain (golang-go, from scripts/setup.sh),
/// once per test run, next to this assembly: a net/http server or client.
/// </summary>
internal static class GoProgram
{
    private static readonly Lazy<string> s_built = new(Build, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>The built program's path.</summary>
    public static string Path => s_built.Value;

    private static string Build()
    {
        string source = System.IO.Path.Combine(TestEnvironment.ServersDirectory, "go_http");
        string output = System.IO.Path.Combine(AppContext.BaseDirectory, "go_http");
        var info = new ProcessStartInfo("go") { WorkingDirectory = source };
        foreach (string a in (string[])["build", "-o", output, "main.go"])
            info.ArgumentList.Add(a);
        info.Environment["GOPROXY"] = "off"; // the standard library only: nothing to download
        info.Environment["GOTOOLCHAIN"] = "local";
        info.Environment["GOCACHE"] = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "beyla-tests-go-cache");
        BuildCommand.Run(info, "go build");
        return output;
    }
}
