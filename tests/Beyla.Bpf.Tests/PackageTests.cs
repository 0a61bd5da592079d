using System.Globalization;
using System.IO.Compression;

namespace Beyla.Bpf.Tests;

/// <summary><c>dotnet add package Beyla</c> in a brand-new project, then run it as a user would.</summary>
public sealed class PackageTests : IClassFixture<PackageFixture>
{
    private readonly PackageFixture _package;

    public PackageTests(PackageFixture package) => _package = package;

    [Fact]
    public void PackagesHoldTheBpfObjectsDocsSymbolsReadmeAndLicence()
    {
        foreach (string id in new[] { "Beyla.Core", "Beyla.Bpf", "Beyla.Exporters", "Beyla.Hosting" })
        {
            Assert.Contains($"{id}.{_package.Version}.nupkg", _package.Packages);
            Assert.Contains($"{id}.{_package.Version}.snupkg", _package.Packages);
            using ZipArchive zip = ZipFile.OpenRead(Path.Combine(_package.Feed, $"{id}.{_package.Version}.nupkg"));
            string[] entries = zip.Entries.Select(e => e.FullName).ToArray();
            Assert.Contains($"lib/net10.0/{id}.dll", entries);
            Assert.Contains($"lib/net10.0/{id}.xml", entries);
            Assert.Contains("README.md", entries);
            Assert.Contains("LICENSE", entries);
        }
        using (ZipArchive bpf = ZipFile.OpenRead(Path.Combine(_package.Feed, $"Beyla.Bpf.{_package.Version}.nupkg")))
        {
            using var dll = new MemoryStream();
            bpf.GetEntry("lib/net10.0/Beyla.Bpf.dll")!.Open().CopyTo(dll);
            string text = System.Text.Encoding.ASCII.GetString(dll.ToArray());
            Assert.Contains("Beyla.Bpf.socket.bpf.o", text, StringComparison.Ordinal);
            Assert.Contains("Beyla.Bpf.tls.bpf.o", text, StringComparison.Ordinal);
        }
        using ZipArchive meta = ZipFile.OpenRead(Path.Combine(_package.Feed, $"Beyla.{_package.Version}.nupkg"));
        string nuspec = new StreamReader(meta.Entries.Single(e => e.FullName.EndsWith(".nuspec", StringComparison.Ordinal)).Open()).ReadToEnd();
        foreach (string id in new[] { "Beyla.Core", "Beyla.Bpf", "Beyla.Exporters" })
            Assert.Contains($"id=\"{id}\" version=\"{_package.Version}\"", nuspec, StringComparison.Ordinal);
    }

    [Fact]
    public void AUserAppRunsWithAFakeSource()
    {
        string output = PackageFixture.Run("dotnet", _package.App, _package.AppDll, "fake");
        Assert.Contains("spans=5", output, StringComparison.Ordinal);
        Assert.Contains("http_server_request_duration_seconds_count{http_request_method=\"GET\",http_response_status_code=\"200\",http_route=\"/users/*\"", output, StringComparison.Ordinal);
        Assert.EndsWith("} 5", output.Split('\n').First(l => l.StartsWith("http_server_request_duration_seconds_count", StringComparison.Ordinal)).Trim(), StringComparison.Ordinal);
    }

    [BpfFact]
    public async Task AUserAppTracesARealServer()
    {
        int port = FreePort.Next();
        using ServerProcess server = ServerProcess.StartPython(port);
        const int requests = 6;
        var info = new System.Diagnostics.ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add(_package.AppDll);
        info.ArgumentList.Add("real");
        info.ArgumentList.Add(port.ToString(CultureInfo.InvariantCulture));
        info.ArgumentList.Add(requests.ToString(CultureInfo.InvariantCulture));
        using var app = System.Diagnostics.Process.Start(info)!;
        try
        {
            string rest = await app.StandardOutput.ReadToEndAsync().WaitAsync(TimeSpan.FromSeconds(60));
            rest += await app.StandardError.ReadToEndAsync().WaitAsync(TimeSpan.FromSeconds(10));
            Assert.Equal(requests, rest.Split('\n').Count(l => l == "sent 200"));
            for (int i = 0; i < requests; i++)
                Assert.True(rest.Contains($"GET /hello/{i} 200", StringComparison.Ordinal), rest);
            Assert.Contains($"spans={requests}", rest, StringComparison.Ordinal);
        }
        finally
        {
            if (!app.HasExited)
                app.Kill();
        }
    }
}
