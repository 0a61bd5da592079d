using System.Globalization;

namespace Beyla.Bpf.Tests;

/// <summary>nginx with a master and two workers, selected by the port it listens on.</summary>
public sealed class NginxServerTests : HttpServerTests, IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("beyla-nginx-").FullName;

    private protected override bool HasChunkedRoute => false;

    private protected override ServerProcess StartServer(int port)
    {
        string conf = NginxConfig.Write(_dir, $$"""
                    listen 127.0.0.1:{{port}};
                    location /hello/ { return 200 "hello from nginx\n"; }
                    location = /status/500 { return 500 "status\n"; }
                    location = /status/404 { return 404 "status\n"; }
                    location = /echo { return 200 "ok\n"; }
                    location /drop/ { return 444; }
            """);
        // /big/N is a static file, which nginx sends with sendfile.
        Directory.CreateDirectory(Path.Combine(_dir, "www", "big"));
        File.WriteAllBytes(Path.Combine(_dir, "www", "big", "4194304"), new byte[4194304]);
        return ServerProcess.Start("nginx", ["-c", conf, "-p", _dir], port);
    }

    private protected override void Select(ProcessSelector selector, ServerProcess server) => selector.ListeningOn(server.Port);

    private protected override IReadOnlySet<int> ServingPids(ServerProcess server)
    {
        var pids = new HashSet<int> { server.Pid };
        foreach (string stat in Directory.EnumerateDirectories("/proc").Select(d => Path.Combine(d, "stat")))
        {
            try
            {
                string text = File.ReadAllText(stat);
                string[] fields = text[(text.LastIndexOf(')') + 2)..].Split(' ');
                if (int.Parse(fields[1], CultureInfo.InvariantCulture) == server.Pid)
                    pids.Add(int.Parse(Path.GetFileName(Path.GetDirectoryName(stat)!), CultureInfo.InvariantCulture));
            }
            catch (Exception ex) when (ex is IOException or FormatException or UnauthorizedAccessException)
            {
            }
        }
        return pids;
    }

    private protected override bool ReadsBodyBeforeAnswering => false;

    private protected override bool HasSlowRoute => false;

    // nginx only proxies WebSockets to a backend
    private protected override bool HasWebSocketRoute => false;

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
