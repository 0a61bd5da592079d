namespace Beyla.Bpf.Tests;

/// <summary>Python's http.server (ThreadingHTTPServer), selected by pid.</summary>
public sealed class PythonServerTests : HttpServerTests
{
    private protected override bool HasTrailersRoute => true;

    private protected override bool HasInterimRoute => true;

    private protected override ServerProcess StartServer(int port) =>
        ServerProcess.StartPython(port);

    private protected override int LoadRequestsPerClient => 40;

    private protected override bool SplitsWebSocketAnswer => true;

    private protected override bool HasPiecesRoute => true;

    private protected override bool HasLongHeadRoute => true;

    private protected override void Select(ProcessSelector selector, ServerProcess server) => selector.ProcessId(server.Pid);
}
