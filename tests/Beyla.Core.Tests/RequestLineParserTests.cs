using System.Text;
using Beyla.Implementation;

namespace Beyla.Tests;

public sealed class RequestLineParserTests
{
    private static bool Parse(string head, out RequestLine line, bool captureQuery = false) =>
        RequestLineParser.TryParse(Encoding.Latin1.GetBytes(head), captureQuery, out line);

    [Theory]
    [InlineData("GET")]
    [InlineData("PUT")]
    [InlineData("POST")]
    [InlineData("HEAD")]
    [InlineData("PATCH")]
    [InlineData("TRACE")]
    [InlineData("DELETE")]
    [InlineData("OPTIONS")]
    [InlineData("CONNECT")]
    public void StandardMethodsAreParsedAndInterned(string method)
    {
        // Two separate buffers, so that nothing but interning can give the same instance.
        Assert.True(Parse($"{method} /x HTTP/1.1\r\n", out RequestLine first));
        Assert.True(Parse($"{method} /y HTTP/1.1\r\nHost: a\r\n\r\n", out RequestLine second));

        Assert.Equal(method, first.Method);
        Assert.Same(first.Method, second.Method);
    }

    [Theory]
    [InlineData("PROPFIND")]
    [InlineData("M-SEARCH")]
    [InlineData("get")]
    [InlineData("X_CUSTOM.1")]
    public void OtherTokenMethodsAreKeptAsSent(string method)
    {
        Assert.True(Parse($"{method} /dav HTTP/1.1\r\n", out RequestLine line));

        Assert.Equal(method, line.Method);
        Assert.Equal("/dav", line.Path);
    }

    [Fact]
    public void MethodOfSixteenCharactersIsTheLongestAccepted()
    {
        Assert.True(Parse($"{new string('A', 16)} / HTTP/1.1\r\n", out RequestLine line));
        Assert.Equal(new string('A', 16), line.Method);

        Assert.False(Parse($"{new string('A', 17)} / HTTP/1.1\r\n", out _));
    }

    [Fact]
    public void QueryIsRemovedFromThePathByDefault()
    {
        Assert.True(Parse("GET /users/42?token=secret&x=1 HTTP/1.1\r\n", out RequestLine line));

        Assert.Equal("/users/42", line.Path);
        Assert.Null(line.Query);
        Assert.False(line.Truncated);
    }

    [Fact]
    public void QueryIsKeptWhenCaptureQueryIsTrue()
    {
        Assert.True(Parse("GET /users/42?token=secret&x=1 HTTP/1.1\r\n", out RequestLine line, captureQuery: true));

        Assert.Equal("/users/42", line.Path);
        Assert.Equal("token=secret&x=1", line.Query);
    }

    [Fact]
    public void QueryIsNullWithoutQuestionMarkAndEmptyWithABareOne()
    {
        Assert.True(Parse("GET /plain HTTP/1.1\r\n", out RequestLine none, captureQuery: true));
        Assert.True(Parse("GET /plain? HTTP/1.1\r\n", out RequestLine empty, captureQuery: true));

        Assert.Null(none.Query);
        Assert.Equal("/plain", empty.Path);
        Assert.Equal("", empty.Query);
    }

    [Theory]
    [InlineData("HTTP/1.0", "1.0")]
    [InlineData("HTTP/1.1", "1.1")]
    public void VersionIsParsed(string version, string expected)
    {
        Assert.True(Parse($"GET / {version}\r\nHost: example\r\n\r\n", out RequestLine line));

        Assert.Equal(expected, line.Version);
        Assert.Equal("/", line.Path);
        Assert.False(line.Truncated);
    }

    [Theory]
    [InlineData("HTTP/2.0")]
    [InlineData("HTTP/1.2")]
    [InlineData("http/1.1")]
    [InlineData("HTTP/1.1x")]
    [InlineData("")]
    public void UnknownVersionIsRejected(string version)
    {
        Assert.False(Parse($"GET / {version}\r\n", out _));
    }

    [Theory]
    [InlineData("GET /a XYZ")]
    [InlineData("GET /a HTTP/2")]
    [InlineData("GET /a HTTP/1.1 extra")]
    [InlineData("GET /a http")]
    public void TruncatedLineWhoseVersionCannotBeHttp1IsRejected(string head)
    {
        // No line end: the capture stopped inside the line. What follows the target must still
        // be the start of "HTTP/1.x"; anything else is not an HTTP/1.x request.
        Assert.False(Parse(head, out _));
    }

    [Theory]
    [InlineData("GET http://example.com/p?q HTTP/1.1\r\n", "/p", "q")]
    [InlineData("GET https://example.com:8443/a/b HTTP/1.1\r\n", "/a/b", null)]
    [InlineData("GET http://example.com HTTP/1.1\r\n", "/", null)]
    public void AbsoluteFormTargetKeepsOnlyThePath(string head, string path, string? query)
    {
        Assert.True(Parse(head, out RequestLine line, captureQuery: true));

        Assert.Equal(path, line.Path);
        Assert.Equal(query, line.Query);
    }

    [Fact]
    public void LineEndingInBareLineFeedIsAccepted()
    {
        Assert.True(Parse("DELETE /x HTTP/1.0\n", out RequestLine line));

        Assert.Equal("DELETE", line.Method);
        Assert.Equal("/x", line.Path);
        Assert.Equal("1.0", line.Version);
        Assert.False(line.Truncated);
    }

    [Fact]
    public void HeadCutAtEveryLengthFailsOrIsMarkedTruncated()
    {
        const string full = "GET /a/b?c=d HTTP/1.1\r\nHost: x\r\n\r\n";
        int lineEnd = full.IndexOf('\r', StringComparison.Ordinal);
        for (int length = 0; length <= full.Length; length++)
        {
            foreach (bool captureQuery in new[] { false, true })
            {
                string head = full[..length];
                bool parsed = Parse(head, out RequestLine line, captureQuery);
                string context = $"head \"{head}\" (captureQuery {captureQuery})";

                if (length < "GET ".Length)
                {
                    Assert.False(parsed, context);
                    continue;
                }
                if (length > lineEnd)
                {
                    // The whole request line is there.
                    Assert.True(parsed, context);
                    Assert.False(line.Truncated, context);
                    Assert.Equal("GET", line.Method);
                    Assert.Equal("/a/b", line.Path);
                    Assert.Equal("1.1", line.Version);
                    Assert.Equal(captureQuery ? "c=d" : null, line.Query);
                    continue;
                }
                // The capture ends inside the line: the documented behaviour is a truncated line
                // holding what was captured. "GET " alone may be rejected (there is no path yet).
                if (length == "GET ".Length && !parsed)
                    continue;
                Assert.True(parsed, context);
                Assert.True(line.Truncated, context);
                Assert.Equal("GET", line.Method);
                Assert.StartsWith(line.Path, "/a/b", StringComparison.Ordinal);
                if (length > "GET /a/b".Length)
                    Assert.Equal("/a/b", line.Path);
                if (captureQuery && line.Query is not null)
                    Assert.StartsWith(line.Query, "c=d", StringComparison.Ordinal);
                if (!captureQuery)
                    Assert.Null(line.Query);
            }
        }
    }

    [Fact]
    public void LongTargetCutByTheCaptureKeepsItsBeginning()
    {
        string path = "/" + string.Join('/', Enumerable.Range(0, 80).Select(i => $"s{i}"));
        string head = $"GET {path} HTTP/1.1\r\n"[..100];

        Assert.True(Parse(head, out RequestLine line));

        Assert.True(line.Truncated);
        Assert.Equal(path[..(100 - "GET ".Length)], line.Path);
    }

    [Theory]
    [InlineData("")]
    [InlineData(" / HTTP/1.1\r\n")]
    [InlineData("GET/ HTTP/1.1\r\n")]
    [InlineData("GETHTTP/1.1\r\n")]
    [InlineData("GET  HTTP/1.1\r\n")]
    [InlineData("GET /path\r\n")]
    [InlineData("ge(t / HTTP/1.1\r\n")]
    [InlineData("g\u00e9t / HTTP/1.1\r\n")]
    [InlineData("GE\tT / HTTP/1.1\r\n")]
    [InlineData("GET /a\u0001b HTTP/1.1\r\n")]
    [InlineData("GET /a\tb HTTP/1.1\r\n")]
    [InlineData("GET /a\u007f HTTP/1.1\r\n")]
    [InlineData("GET /caf\u00e9 HTTP/1.1\r\n")]
    [InlineData("GET /a\u0000 HTTP/1.1\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\n")]
    public void GarbageIsRejected(string head)
    {
        Assert.False(Parse(head, out RequestLine line));
        Assert.Equal(default, line);
    }

    [Fact]
    public void TlsClientHelloIsRejected()
    {
        byte[] hello = [0x16, 0x03, 0x01, 0x00, 0xa5, 0x01, 0x00, 0x00, 0xa1, 0x03, 0x03, 0x20, 0x41, 0x20, 0x42];

        Assert.False(RequestLineParser.TryParse(hello, captureQuery: true, out _));
    }

    [Fact]
    public void RandomBytesNeverThrowAndOnlyValidLinesAreAccepted()
    {
        var random = new Random(4711);
        byte[] alphabet = "GET /?=&HTP1.0\r\n \u0001\u00ff:AZaz"u8.ToArray();
        int accepted = 0;
        for (int iteration = 0; iteration < 50_000; iteration++)
        {
            byte[] head = new byte[random.Next(0, 40)];
            if (iteration % 2 == 0)
            {
                random.NextBytes(head);
            }
            else
            {
                for (int i = 0; i < head.Length; i++)
                    head[i] = alphabet[random.Next(alphabet.Length)];
            }

            if (!RequestLineParser.TryParse(head, captureQuery: true, out RequestLine line))
                continue;
            accepted++;
            Assert.NotEmpty(line.Method);
            Assert.All(line.Method, c => Assert.True(c is > ' ' and < '\u007f' && c != '/' && c != '(' && c != ')', $"method char {(int)c}"));
            Assert.All(line.Path, c => Assert.InRange(c, '!', '~'));
            Assert.DoesNotContain('?', line.Path);
            if (line.Query is not null)
                Assert.All(line.Query, c => Assert.InRange(c, '!', '~'));
            Assert.True(line.Version is "1.0" or "1.1", line.Version);
            bool hasLineEnd = Array.IndexOf(head, (byte)'\r') >= 0 || Array.IndexOf(head, (byte)'\n') >= 0;
            Assert.Equal(!hasLineEnd, line.Truncated);
        }
        Assert.True(accepted > 0, "the alphabet should produce some valid lines");
    }
}
