using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Beyla.Bpf.Tests;

/// <summary>A GET on a connection of its own (<c>Connection: close</c>), read to the end.</summary>
internal static class OneShotRequest
{
    public static async Task SendAsync(int port, string path)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(IPAddress.Loopback, port);
        await socket.SendAsync(Encoding.ASCII.GetBytes($"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"));
        var buffer = new byte[4096];
        while (await socket.ReceiveAsync(buffer) > 0)
        {
        }
    }
}
