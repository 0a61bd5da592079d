using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Beyla.Agent;

/// <summary>
/// The demo's HTTP/1.1 server on loopback: /hello answers 200, /slow waits 50 ms, /error
/// answers 500, anything else 404. Keep-alive, Content-Length bodies.
/// </summary>
internal sealed class DemoServer : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accepting;

    public DemoServer()
    {
        _listener.Start();
        _accepting = AcceptAsync();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _listener.AcceptSocketAsync(_stop.Token);
            }
            catch (Exception) when (_stop.IsCancellationRequested)
            {
                return;
            }
            _ = ServeAsync(client);
        }
    }

    private async Task ServeAsync(Socket socket)
    {
        using (socket)
        using (var stream = new NetworkStream(socket))
        using (var reader = new StreamReader(stream, Encoding.ASCII, false, 4096, leaveOpen: true))
        {
            try
            {
                while (true)
                {
                    string? requestLine = await reader.ReadLineAsync(_stop.Token);
                    if (string.IsNullOrEmpty(requestLine))
                        return;
                    string? header;
                    while (!string.IsNullOrEmpty(header = await reader.ReadLineAsync(_stop.Token)))
                    {
                    }
                    string target = requestLine.Split(' ') is [_, var t, ..] ? t : "/";
                    string path = target.Split('?')[0];
                    (int status, string body) = path switch
                    {
                        "/hello" => (200, "hello from the demo server\n"),
                        "/slow" => (200, "slow\n"),
                        "/error" => (500, "something broke\n"),
                        _ => (404, "not found\n"),
                    };
                    if (path == "/slow")
                        await Task.Delay(50, _stop.Token);
                    string reason = status switch { 200 => "OK", 404 => "Not Found", _ => "Internal Server Error" };
                    byte[] response = Encoding.ASCII.GetBytes(
                        $"HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain\r\nContent-Length: {body.Length}\r\n\r\n{body}");
                    await stream.WriteAsync(response, _stop.Token);
                }
            }
            catch (Exception ex) when (ex is IOException or OperationCanceledException or SocketException)
            {
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _accepting;
        _stop.Dispose();
    }
}
