using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Beyla.ResponseTimeDemo;

/// <summary>One client: one keep-alive connection, requests one after another, each timed with the monotonic clock.</summary>
internal sealed class ClientRun
{
    public int LocalPort { get; private set; }

    public List<(long Start, long End)> Requests { get; } = [];

    public static async Task<ClientRun> RunAsync(int port, int count)
    {
        var run = new ClientRun();
        using var handler = new SocketsHttpHandler
        {
            MaxConnectionsPerServer = 1,
            ConnectCallback = async (context, ct) =>
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                await socket.ConnectAsync(context.DnsEndPoint.Host, context.DnsEndPoint.Port, ct);
                run.LocalPort = ((IPEndPoint)socket.LocalEndPoint!).Port;
                return new NetworkStream(socket, ownsSocket: true);
            },
        };
        using var client = new HttpClient(handler);
        for (int i = 0; i < count; i++)
        {
            long start = Stopwatch.GetTimestamp();
            using HttpResponseMessage response = await client.GetAsync(new Uri($"http://127.0.0.1:{port}/work"));
            await response.Content.ReadAsByteArrayAsync();
            run.Requests.Add((start, Stopwatch.GetTimestamp()));
        }
        return run;
    }
}
