using System.Text.Json;

namespace Beyla.Agent;

/// <summary>Writes spans as JSON lines.</summary>
internal sealed class JsonSpanWriter : IDisposable
{
    private readonly Stream _output;
    private readonly Utf8JsonWriter _writer;

    public JsonSpanWriter(Stream output)
    {
        _output = output;
        _writer = new Utf8JsonWriter(output);
    }

    public void Write(HttpSpan span)
    {
        _writer.Reset();
        _writer.WriteStartObject();
        _writer.WriteString("kind", span.Kind == HttpSpanKind.Server ? "server" : "client");
        _writer.WriteNumber("pid", span.ProcessId);
        _writer.WriteNumber("tid", span.ThreadId);
        _writer.WriteString("method", span.Method);
        _writer.WriteString("path", span.Path);
        if (span.QueryString is not null)
            _writer.WriteString("query", span.QueryString);
        _writer.WriteNumber("status", span.StatusCode);
        _writer.WriteString("start", span.StartTime);
        _writer.WriteNumber("durationNs", span.DurationNanoseconds);
        _writer.WriteString("localAddress", span.LocalAddress.ToString());
        _writer.WriteNumber("localPort", span.LocalPort);
        _writer.WriteString("peerAddress", span.PeerAddress.ToString());
        _writer.WriteNumber("peerPort", span.PeerPort);
        _writer.WriteNumber("requestBytes", span.RequestBytes);
        _writer.WriteNumber("responseBytes", span.ResponseBytes);
        _writer.WriteString("protocol", "HTTP/" + span.ProtocolVersion);
        _writer.WriteBoolean("tls", span.IsTls);
        _writer.WriteString("end", span.EndReason switch
        {
            SpanEndReason.ResponseComplete => "complete",
            SpanEndReason.NextRequest => "next-request",
            SpanEndReason.ConnectionClosed => "closed",
            _ => "no-response",
        });
        _writer.WriteEndObject();
        _writer.Flush();
        _output.WriteByte((byte)'\n');
    }

    public void Dispose() => _writer.Dispose();
}
