namespace Beyla.Bpf.Tests;

/// <summary>A Node http server, selected by executable name.</summary>
public sealed class NodeServerTests : HttpServerTests
{
    private protected override bool HasTrailersRoute => true;

    private protected override ServerProcess StartServer(int port) =>
        ServerProcess.Start("node", [Path.Combine(TestEnvironment.ServersDirectory, "node_server.js"), port.ToString(System.Globalization.CultureInfo.InvariantCulture)], port);

    private protected override void Select(ProcessSelector selector, ServerProcess server) => selector.ExecutableName("node");
}
