namespace Beyla.Bpf.Tests;

/// <summary>A Go net/http server (a goroutine per connection, netpoller I/O), selected by executable name.</summary>
public sealed class GoServerTests : HttpServerTests
{
    private protected override bool HasChunkedRoute => false;

    private protected override ServerProcess StartServer(int port) =>
        ServerProcess.Start(GoProgram.Path, ["server", port.ToString(System.Globalization.CultureInfo.InvariantCulture)], port);

    private protected override void Select(ProcessSelector selector, ServerProcess server) => selector.ExecutableName("go_http");
}
