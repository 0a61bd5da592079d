using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Beyla.Bpf.Tests;

/// <summary>
/// A minimal HTTP/1.1 client on one keep-alive connection that measures each exchange
/// itself, writes requests in as many pieces as asked, and reads Content-Length or chunked
/// responses, or a response that runs to the close (the connection is then done).
/// </summary>
internal sealed class KeepAliveClient : IDisposable
{
    private readonly Socket _socket;
    private readonly int _port;
    private readonly byte[] _buffer = new byte[64 * 1024];
    private int _buffered;

    public KeepAliveClient(int port)
    {
        _port = port;
        _socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        _socket.Connect(IPAddress.Loopback, port);
    }

    public int LocalPort => ((IPEndPoint)_socket.LocalEndPoint!).Port;

    public ClientExchange Get(string path) => Send("GET", path, null);

    /// <summary>Sends a request; a body is written in <paramref name="bodyPieces"/> separate writes, <paramref name="pauseMs"/> apart.</summary>
    public ClientExchange Send(string method, string path, byte[]? body, int bodyPieces = 1, int pauseMs = 0)
    {
        var head = new StringBuilder()
            .Append(method).Append(' ').Append(path).Append(" HTTP/1.1\r\n")
            .Append("Host: 127.0.0.1:").Append(_port).Append("\r\n")
            .Append("User-Agent: beyla-tests\r\n");
        if (body is not null)
            head.Append("Content-Type: application/octet-stream\r\nContent-Length: ").Append(body.Length).Append("\r\n");
        head.Append("\r\n");
        byte[] headBytes = Encoding.ASCII.GetBytes(head.ToString());

        long start = Stopwatch.GetTimestamp();
        if (body is null || bodyPieces <= 1)
        {
            byte[] all = body is null ? headBytes : [.. headBytes, .. body];
            SendAll(all);
        }
        else
        {
            SendAll(headBytes);
            int pieceSize = (body.Length + bodyPieces - 1) / bodyPieces;
            for (int offset = 0; offset < body.Length; offset += pieceSize)
            {
                Thread.Sleep(pauseMs);
                SendAll(body.AsSpan(offset, Math.Min(pieceSize, body.Length - offset)));
            }
        }
        (int status, long responseBytes) = ReadResponse(method == "HEAD");
        long end = Stopwatch.GetTimestamp();
        return new ClientExchange(method, path, status, headBytes.Length + (body?.Length ?? 0), responseBytes, start, end, LocalPort);
    }

    /// <summary>Pipelines GET requests: all heads in one write, then reads the responses in order.</summary>
    public List<ClientExchange> GetPipelined(params string[] paths)
    {
        byte[][] heads = paths.Select(p => Encoding.ASCII.GetBytes($"GET {p} HTTP/1.1\r\nHost: 127.0.0.1:{_port}\r\n\r\n")).ToArray();
        long start = Stopwatch.GetTimestamp();
        SendAll(heads.SelectMany(h => h).ToArray());
        var exchanges = new List<ClientExchange>();
        for (int i = 0; i < paths.Length; i++)
        {
            (int status, long responseBytes) = ReadResponse(false);
            exchanges.Add(new ClientExchange("GET", paths[i], status, heads[i].Length, responseBytes, start, Stopwatch.GetTimestamp(), LocalPort));
        }
        return exchanges;
    }

    /// <summary>Sends a GET whose request head goes out one byte per write, <paramref name="pauseMs"/> apart.</summary>
    public ClientExchange GetBytewise(string path, int pauseMs)
    {
        byte[] head = Encoding.ASCII.GetBytes($"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{_port}\r\n\r\n");
        long start = Stopwatch.GetTimestamp();
        foreach (byte b in head)
        {
            SendAll([b]);
            Thread.Sleep(pauseMs);
        }
        (int status, long responseBytes) = ReadResponse(false);
        return new ClientExchange("GET", path, status, head.Length, responseBytes, start, Stopwatch.GetTimestamp(), LocalPort);
    }

    /// <summary>
    /// Sends a GET for <paramref name="first"/> (a POST when it has a <paramref name="body"/>; an
    /// empty body goes with no Content-Length), then
    /// after <paramref name="pauseMs"/> the first <paramref name="early"/> bytes of a GET for
    /// <paramref name="second"/> before the first answer came (a pipelining client, or one whose next
    /// request overtakes a late hook), then the rest of it once the first answer has come; returns
    /// both exchanges, the second from its first byte.
    /// </summary>
    public List<ClientExchange> GetStartingTheNextEarly(string first, string second, int early, int pauseMs, byte[]? body = null)
    {
        string method = body is null ? "GET" : "POST";
        string length = body is null || body.Length == 0 ? "" : $"Content-Length: {body.Length}\r\n";
        byte[] head1 = [.. Encoding.ASCII.GetBytes($"{method} {first} HTTP/1.1\r\nHost: 127.0.0.1:{_port}\r\n{length}\r\n"), .. body ?? []];
        byte[] head2 = Encoding.ASCII.GetBytes($"GET {second} HTTP/1.1\r\nHost: 127.0.0.1:{_port}\r\n\r\n");
        long start1 = Stopwatch.GetTimestamp();
        SendAll(head1);
        Thread.Sleep(pauseMs);
        long start2 = Stopwatch.GetTimestamp();
        SendAll(head2.AsSpan(0, early));
        (int status1, long bytes1) = ReadResponse(false);
        long end1 = Stopwatch.GetTimestamp();
        SendAll(head2.AsSpan(early));
        (int status2, long bytes2) = ReadResponse(false);
        return
        [
            new ClientExchange(method, first, status1, head1.Length, bytes1, start1, end1, LocalPort),
            new ClientExchange("GET", second, status2, head2.Length, bytes2, start2, Stopwatch.GetTimestamp(), LocalPort),
        ];
    }

    /// <summary>Sends a WebSocket handshake for <paramref name="path"/> and reads its answer (a 101 has no body).</summary>
    public ClientExchange Upgrade(string path)
    {
        byte[] head = Encoding.ASCII.GetBytes(
            $"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{_port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
        long start = Stopwatch.GetTimestamp();
        SendAll(head);
        (int status, long responseBytes) = ReadResponse(false);
        return new ClientExchange("GET", path, status, head.Length, responseBytes, start, Stopwatch.GetTimestamp(), LocalPort);
    }

    /// <summary>
    /// On an upgraded connection, sends <paramref name="text"/> (under 126 bytes) as a masked text
    /// frame whose mask is 0, so that its payload goes as written: its header, then
    /// <paramref name="pauseMs"/> later its payload, which the server reads alone. Returns the
    /// payload of the frame the server answers with.
    /// </summary>
    public string EchoFrame(string text, int pauseMs)
    {
        byte[] payload = Encoding.ASCII.GetBytes(text);
        SendAll([0x81, (byte)(0x80 | payload.Length), 0, 0, 0, 0]);
        Thread.Sleep(pauseMs);
        SendAll(payload);
        return Encoding.ASCII.GetString(ReadFrame());
    }

    /// <summary>Sends a WebSocket close frame and reads the server's.</summary>
    public void CloseWebSocket()
    {
        SendAll([0x88, 0x80, 0, 0, 0, 0]);
        ReadFrame();
    }

    /// <summary>The payload of the next frame from the server (unmasked, under 126 bytes).</summary>
    private byte[] ReadFrame()
    {
        while (_buffered < 2)
            Fill();
        int length = _buffer[1] & 0x7f;
        while (_buffered < 2 + length)
            Fill();
        byte[] payload = _buffer.AsSpan(2, length).ToArray();
        Consume(2 + length);
        return payload;
    }

    /// <summary>Sends a GET and waits until the server closes the connection without answering.</summary>
    public (long Start, long End) GetExpectingClose(string path)
    {
        byte[] head = Encoding.ASCII.GetBytes($"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{_port}\r\n\r\n");
        long start = Stopwatch.GetTimestamp();
        SendAll(head);
        try
        {
            while (_socket.Receive(_buffer) > 0)
            {
            }
        }
        catch (SocketException)
        {
            // reset instead of close
        }
        return (start, Stopwatch.GetTimestamp());
    }

    private void SendAll(ReadOnlySpan<byte> data)
    {
        while (!data.IsEmpty)
            data = data[_socket.Send(data)..];
    }

    private (int Status, long Bytes) ReadResponse(bool head)
    {
        int headEnd;
        string headText;
        int status;
        while (true)
        {
            while ((headEnd = _buffer.AsSpan(0, _buffered).IndexOf("\r\n\r\n"u8)) < 0)
                Fill();
            headEnd += 4;
            headText = Encoding.ASCII.GetString(_buffer, 0, headEnd);
            status = int.Parse(headText.AsSpan(9, 3), provider: System.Globalization.CultureInfo.InvariantCulture);
            Consume(headEnd);
            if (status >= 200 || status == 101)
                break;
            // an interim response (100 Continue, 103 Early Hints): passed over, as the tracer does
        }
        long total = headEnd;
        string? contentLength = null;
        bool chunked = false;
        foreach (string line in headText.Split("\r\n"))
        {
            if (line.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase))
                contentLength = line[15..].Trim();
            if (line.StartsWith("Transfer-Encoding:", StringComparison.OrdinalIgnoreCase) && line.Contains("chunked", StringComparison.OrdinalIgnoreCase))
                chunked = true;
        }
        if (head || status == 101 || status == 204 || status == 304)
            return (status, total);
        if (contentLength is not null)
        {
            long length = long.Parse(contentLength, System.Globalization.CultureInfo.InvariantCulture);
            Skip(length);
            return (status, total + length);
        }
        if (!chunked)
        {
            // neither Content-Length nor chunked: the body runs to the close (RFC 9112 6.3)
            total += _buffered;
            _buffered = 0;
            int n;
            while ((n = _socket.Receive(_buffer)) > 0)
                total += n;
            return (status, total);
        }
        while (true)
        {
            string sizeLine = ReadLine(ref total);
            int size = int.Parse(sizeLine.Split(';')[0], System.Globalization.NumberStyles.HexNumber, System.Globalization.CultureInfo.InvariantCulture);
            if (size == 0)
            {
                while (ReadLine(ref total).Length > 0)
                {
                    // trailer fields, up to the blank line
                }
                return (status, total);
            }
            total += size + 2;
            Skip(size + 2); // the chunk and its CRLF
        }
    }

    /// <summary>Reads and drops <paramref name="count"/> bytes.</summary>
    private void Skip(long count)
    {
        while (count > 0)
        {
            if (_buffered == 0)
                Fill();
            int take = (int)Math.Min(count, _buffered);
            Consume(take);
            count -= take;
        }
    }

    /// <summary>Reads one line (without its CRLF), adding its bytes to <paramref name="total"/>.</summary>
    private string ReadLine(ref long total)
    {
        int end;
        while ((end = _buffer.AsSpan(0, _buffered).IndexOf("\r\n"u8)) < 0)
            Fill();
        string line = Encoding.ASCII.GetString(_buffer, 0, end);
        total += end + 2;
        Consume(end + 2);
        return line;
    }

    private void Fill()
    {
        int n = _socket.Receive(_buffer.AsSpan(_buffered));
        if (n == 0)
            throw new IOException("server closed the connection");
        _buffered += n;
    }

    private void Consume(int count)
    {
        Buffer.BlockCopy(_buffer, count, _buffer, 0, _buffered - count);
        _buffered -= count;
    }

    public void Dispose() => _socket.Dispose();
}
