namespace Beyla.Bpf.Tests;

/// <summary>An ASP.NET Core (Kestrel) server, selected by pid.</summary>
public sealed class KestrelServerTests : HttpServerTests
{
    private protected override ServerProcess StartServer(int port) =>
        ServerProcess.Start("dotnet", [TestEnvironment.KestrelServerDll, "--urls", $"http://127.0.0.1:{port}"], port);

    private protected override void Select(ProcessSelector selector, ServerProcess server) => selector.ProcessId(server.Pid);
}
