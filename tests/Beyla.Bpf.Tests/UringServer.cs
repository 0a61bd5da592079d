using System.Diagnostics;

namespace Beyla.Bpf.Tests;

/// <summary>
/// tests/servers/uring_server.c, an HTTP server that moves bytes through io_uring, built with
/// clang-14 against liburing (liburing-dev, from scripts/setup.sh) once per test run, next to this
/// assembly.
/// </summary>
internal static class UringServer
{
    private static readonly Lazy<string> s_built = new(Build, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>The built program's path.</summary>
    public static string Path => s_built.Value;

    /// <summary>Starts it on a free port in <paramref name="mode"/> (see the modes in uring_server.c).</summary>
    public static ServerProcess Start(string mode)
    {
        int port = FreePort.Next();
        return ServerProcess.Start(Path, [port.ToString(System.Globalization.CultureInfo.InvariantCulture), mode], port);
    }

    private static string Build()
    {
        string output = System.IO.Path.Combine(AppContext.BaseDirectory, "uring_server");
        var info = new ProcessStartInfo("clang-14");
        foreach (string a in (string[])["-O2", "-Wall", "-Werror", "-o", output, System.IO.Path.Combine(TestEnvironment.ServersDirectory, "uring_server.c"), "-luring", "-lpthread"])
            info.ArgumentList.Add(a);
        BuildCommand.Run(info, "clang-14 uring_server.c");
        return output;
    }
}
