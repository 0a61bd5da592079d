using System.Net;

namespace Beyla.Bpf.Tests;

/// <summary>
/// busybox httpd, an inetd-style server: it forks for each connection, moves the socket to fd 0,
/// reads the request there and answers on a duplicate of it, fd 1 (dup2), a file's body by
/// sendfile. Each request is one span of the forked process with what the client got, ended by
/// the response's length (its 404 page's by the close); before the connection was looked up by its socket as well as its fd,
/// every span had status 0 and no response.
/// </summary>
public sealed class BusyboxHttpdTests
{
    [BpfFact]
    public async Task RequestReadOnOneFdAndAnsweredOnItsDuplicateIsOneSpan()
    {
        DirectoryInfo root = Directory.CreateTempSubdirectory("beyla-busybox-");
        try
        {
            File.WriteAllText(Path.Combine(root.FullName, "index.html"), new string('b', 50_000));
            File.WriteAllText(Path.Combine(root.FullName, "small.txt"), "small\n");
            int port = FreePort.Next();
            using ServerProcess server = ServerProcess.Start("busybox", ["httpd", "-f", "-p", $"127.0.0.1:{port}", "-h", root.FullName], port);
            await using BeylaTracer tracer = new BeylaBuilder().TraceProcesses(p => p.ProcessId(server.Pid)).WithHttpProbes().Build();
            await using var collector = new SpanCollector(tracer);

            var exchanges = new List<ClientExchange>();
            foreach (string path in new[] { "/index.html", "/small.txt", "/missing", "/index.html" })
            {
                using var client = new KeepAliveClient(port); // busybox closes after each response
                exchanges.Add(client.Get(path));
            }

            List<HttpSpan> spans = await collector.WaitForAsync(exchanges.Count, s => s.LocalPort == port);
            Assert.Equal(exchanges.Count, spans.Count);
            foreach (ClientExchange exchange in exchanges)
            {
                HttpSpan span = Assert.Single(spans, s => s.PeerPort == exchange.LocalPort);
                Assert.Equal(HttpSpanKind.Server, span.Kind);
                Assert.NotEqual(server.Pid, span.ProcessId); // the fork that served the connection
                Assert.Equal(exchange.Method, span.Method);
                Assert.Equal(exchange.Path, span.Path);
                Assert.Equal(exchange.Status, span.StatusCode);
                Assert.Equal(exchange.RequestBytes, span.RequestBytes);
                Assert.Equal(exchange.ResponseBytes, span.ResponseBytes);
                // its 404 page has no Content-Length: the close ends it
                Assert.Equal(exchange.Status == 404 ? SpanEndReason.ConnectionClosed : SpanEndReason.ResponseComplete, span.EndReason);
                Assert.Equal(IPAddress.Loopback, span.PeerAddress);
                Assert.True(span.StartTimestamp >= exchange.StartTimestamp && span.StartTimestamp + span.DurationNanoseconds <= exchange.EndTimestamp,
                    $"{span.Path}: the span is not inside the client's exchange");
            }
            Assert.Equal([200, 200, 404, 200], exchanges.Select(e => e.Status));
            Assert.Equal(0, tracer.Statistics.TotalLost);
        }
        finally
        {
            root.Delete(recursive: true);
        }
    }
}
