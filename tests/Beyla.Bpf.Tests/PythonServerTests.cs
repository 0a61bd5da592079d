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

    /// <summary>
    /// A response whose body goes from a pipe to the socket by splice (haproxy's
    /// splice-response), or that is written on a duplicate of the fd its request was read on
    /// (inetd-style servers read fd 0 and write fd 1), is one span with all its bytes, and the
    /// next request on the connection is a span of its own.
    /// </summary>
    [BpfTheory]
    [InlineData("splice")]
    [InlineData("dup")]
    public Task ResponseMovedBySpliceOrOnADuplicateFdIsOneSpan(string how) =>
        AssertEachIsOneCompleteSpanAsync($"/{how}/300000", $"/{how}/10", "/hello/after");
}
