namespace Beyla.Bpf.Tests;

/// <summary>Python's http.server (ThreadingHTTPServer), selected by pid.</summary>
public sealed class PythonServerTests : HttpServerTests
{
    private protected override ServerProcess StartServer(int port) =>
        ServerProcess.Start("python3", [Path.Combine(TestEnvironment.ServersDirectory, "python_server.py"), port.ToString(System.Globalization.CultureInfo.InvariantCulture)], port);

    private protected override int LoadRequestsPerClient => 40;

    private protected override void Select(ProcessSelector selector, ServerProcess server) => selector.ProcessId(server.Pid);
}
