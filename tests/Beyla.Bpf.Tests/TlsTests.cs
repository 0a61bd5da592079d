using System.Diagnostics;
using System.Globalization;
using System.Net;
using Beyla.Implementation;
using Beyla.Tests.Support;
using Microsoft.Extensions.Logging;

namespace Beyla.Bpf.Tests;

/// <summary>
/// HTTPS through OpenSSL: servers that use a socket BIO (Python, nginx) or move the
/// ciphertext themselves (Kestrel, Node), and clients (curl, .NET HttpClient). Every span is
/// marked TLS and counts match the requests sent.
/// </summary>
public sealed class TlsTests : IClassFixture<TestCertificate>
{
    private static readonly (string Path, int Status)[] s_requests =
        [("/hello/1", 200), ("/missing/2", 404), ("/status/500", 500), ("/hello/4?secret=x", 200), ("/hello/5", 200)];

    private static readonly string[] s_systemLibssl = ["/usr/lib/x86_64-linux-gnu/libssl.so.3", "/usr/lib64/libssl.so.3", "/usr/lib/libssl.so.3"];

    private readonly TestCertificate _certificate;

    public TlsTests(TestCertificate certificate) => _certificate = certificate;

    // perfUprobes: the probes as perf-event uprobes (kernels before 6.6) rather than uprobe_multi links
    [BpfTheory]
    [InlineData(false)]
    [InlineData(true)]
    public Task PythonSslServerAndCurlClient(bool perfUprobes) => ServerAndCurlAsync(port => ServerProcess.Start("python3",
        [Path.Combine(TestEnvironment.ServersDirectory, "python_server.py"), Port(port), _certificate.CertificatePath, _certificate.KeyPath], port),
        (p, server) => p.ProcessId(server.Pid), traceCurl: true, perfUprobes: perfUprobes);

    [BpfFact]
    public Task NodeHttpsServerWithOpenSslInsideTheBinary() => ServerAndCurlAsync(StartNodeHttps,
        (p, server) => p.ProcessId(server.Pid), traceCurl: false);

    [BpfFact]
    public async Task NodeStartedAfterTracingBeganIsTracedFromItsFirstRequest()
    {
        await using BeylaTracer tracer = new BeylaBuilder().TraceProcesses(p => p.ExecutableName("node")).WithHttpProbes().Build();
        await using var collector = new SpanCollector(tracer);
        int port = FreePort.Next();
        using ServerProcess server = StartNodeHttps(port);
        await CurlAsync(port);
        List<HttpSpan> spans = await collector.WaitForAsync(s_requests.Length, s => s.ProcessId == server.Pid);
        AssertSpans(spans, HttpSpanKind.Server);
        Assert.Equal(0, tracer.Statistics.TotalLost);
    }

    [BpfFact]
    public async Task ProcessThatLoadsLibsslAfterTracingBeganIsTracedFromItsFirstRequest()
    {
        int port = FreePort.Next();
        using ServerProcess server = StartNodeHttps(port);
        using GatedClient client = await GatedClient.StartAsync("python3", "python_late_tls_client.py", [Port(port), .. s_requests.Select(r => r.Path)]);
        Assert.DoesNotContain(File.ReadLines($"/proc/{client.Pid}/maps"), l => l.Contains("libssl", StringComparison.Ordinal));
        await using BeylaTracer tracer = new BeylaBuilder().TraceProcesses(p => p.ProcessId(client.Pid)).WithHttpProbes().Build();
        await using var collector = new SpanCollector(tracer);
        string[] codes = await client.RunAsync();
        Assert.Equal(s_requests.Select(r => r.Status.ToString(CultureInfo.InvariantCulture)), codes);
        AssertSpans(await collector.WaitForAsync(s_requests.Length, s => s.ProcessId == client.Pid), HttpSpanKind.Client);
        Assert.Equal(0, tracer.Statistics.TotalLost);
    }

    /// <summary>
    /// A TLS client selected when it starts is given its probes tens of milliseconds later (the
    /// kernel's attach), and curl sends its first request sooner: what goes before them is not
    /// traced, but never silently. The kernel sees the handshake begin with no SSL call before
    /// it and the library logs warning 117 for the process (the program's first at warning, later
    /// ones at debug). Each curl's first request is either traced or so reported; the requests
    /// after it that are traced have their own statuses.
    /// </summary>
    [BpfFact]
    public async Task AClientWhoseHandshakeBeginsBeforeItsProbesIsReported()
    {
        int port = FreePort.Next();
        using ServerProcess server = ServerProcess.Start("python3",
            [Path.Combine(TestEnvironment.ServersDirectory, "python_server.py"), Port(port), _certificate.CertificatePath, _certificate.KeyPath], port);
        var logger = new RecordingLogger(LogLevel.Debug);
        await using BeylaTracer tracer = new BeylaBuilder().TraceProcesses(p => p.ExecutableName("curl")).WithHttpProbes()
            .WithLogging(new RecordingLoggerFactory(logger)).Build();
        await using var collector = new SpanCollector(tracer);
        var curls = new List<int>();
        for (int i = 0; i < 3; i++)
            curls.Add(await CurlAsync(port));

        bool Traced(int pid) => collector.Spans.Any(s => s.ProcessId == pid && s.Path == s_requests[0].Path.Split('?')[0]);
        bool Reported(int pid) => logger.Entries.Any(e => e.EventId.Id == HandshakeBeforeProbesEvent && (int)e.Properties["Pid"]! == pid);
        var deadline = Stopwatch.StartNew();
        while (!curls.All(pid => Traced(pid) || Reported(pid)) && deadline.Elapsed < TimeSpan.FromSeconds(10))
            await Task.Delay(50);
        Assert.All(curls, pid => Assert.True(Traced(pid) || Reported(pid), $"curl {pid}'s first request was neither traced nor reported"));
        List<LogEntry> reports = [.. logger.Entries.Where(e => e.EventId.Id == HandshakeBeforeProbesEvent)];
        Assert.All(reports, e => Assert.Equal("curl", e.Properties["Command"]));
        if (reports.Count > 0)
        {
            Assert.Equal(LogLevel.Warning, reports[0].Level);
            Assert.All(reports.Skip(1), e => Assert.Equal(LogLevel.Debug, e.Level));
        }
        Assert.DoesNotContain(logger.Entries, e => e.EventId.Id == HandshakeWithoutOpenSslEvent); // curl's TLS is OpenSSL's
        foreach (HttpSpan span in collector.Spans.Where(s => curls.Contains(s.ProcessId)))
            Assert.Equal(s_requests.Single(r => r.Path.Split('?')[0] == span.Path).Status, span.StatusCode);
    }

    /// <summary>
    /// A client whose TLS is not OpenSSL's (Go's crypto/tls) cannot be traced over HTTPS, and the
    /// library says so: information 118, once, naming the process.
    /// </summary>
    [BpfFact]
    public async Task AClientWhoseTlsIsNotOpenSslIsReported()
    {
        int port = FreePort.Next();
        using ServerProcess server = ServerProcess.Start("python3",
            [Path.Combine(TestEnvironment.ServersDirectory, "python_server.py"), Port(port), _certificate.CertificatePath, _certificate.KeyPath], port);
        using GatedClient client = await GatedClient.StartProgramAsync(GoProgram.Path, ["client", $"https://127.0.0.1:{port}", .. s_requests.Select(r => r.Path)]);
        var logger = new RecordingLogger(LogLevel.Debug);
        await using BeylaTracer tracer = new BeylaBuilder().TraceProcesses(p => p.ProcessId(client.Pid)).WithHttpProbes()
            .WithLogging(new RecordingLoggerFactory(logger)).Build();
        string[] lines = await client.RunAsync();
        Assert.Equal(s_requests.Select(r => r.Status.ToString(CultureInfo.InvariantCulture)), lines.Select(l => l.Split(' ')[0]));
        await WaitForLogAsync(logger, HandshakeWithoutOpenSslEvent);
        LogEntry report = Assert.Single(logger.Entries, e => e.EventId.Id is HandshakeWithoutOpenSslEvent or HandshakeBeforeProbesEvent);
        Assert.Equal(HandshakeWithoutOpenSslEvent, report.EventId.Id);
        Assert.Equal(LogLevel.Information, report.Level);
        Assert.Equal(client.Pid, report.Properties["Pid"]);
        Assert.Equal("go_http", report.Properties["Command"]);
    }

    /// <summary>
    /// A process whose probes are in place but which writes a TLS handshake no probed SSL call
    /// made (a TLS passthrough proxy relays them: here a client that loaded OpenSSL writes a
    /// ClientHello of its own over a plain socket) is neither "late" (117) nor "not OpenSSL" (118):
    /// debug 119, once.
    /// </summary>
    [BpfFact]
    public async Task AHandshakeNoProbedCallMadeIsOnlyADebugNote()
    {
        int port = FreePort.Next();
        using ServerProcess server = ServerProcess.Start("python3",
            [Path.Combine(TestEnvironment.ServersDirectory, "python_server.py"), Port(port), _certificate.CertificatePath, _certificate.KeyPath], port);
        using GatedClient client = await GatedClient.StartAsync("python3", "python_late_tls_client.py", ["--hold", "--raw-hello", Port(port), "/hello/1"]);
        var logger = new RecordingLogger(LogLevel.Debug);
        SocketProbeSet? probes = null;
        await using BeylaTracer tracer = new BeylaBuilder().TraceProcesses(p => p.ProcessId(client.Pid))
            .WithEventSource(context => probes = new SocketProbeSet(context))
            .WithLogging(new RecordingLoggerFactory(logger)).Build();
        await client.GoUntilAsync("loaded");
        await WaitForTlsProbesAsync(probes!, client.Pid);
        await client.RunAsync();
        await WaitForLogAsync(logger, HandshakeNotThroughProbesEvent);
        await probes!.Tls!.QueuedWorkDone().WaitAsync(TimeSpan.FromSeconds(30));
        LogEntry note = Assert.Single(logger.Entries, e => e.EventId.Id is HandshakeNotThroughProbesEvent or HandshakeBeforeProbesEvent or HandshakeWithoutOpenSslEvent);
        Assert.Equal(HandshakeNotThroughProbesEvent, note.EventId.Id);
        Assert.Equal(LogLevel.Debug, note.Level);
        Assert.Equal(client.Pid, note.Properties["Pid"]);
    }

    private const int HandshakeBeforeProbesEvent = 117;
    private const int HandshakeWithoutOpenSslEvent = 118;
    private const int HandshakeNotThroughProbesEvent = 119;

    /// <summary>
    /// An OpenSSL built for Intel CET (-fcf-protection) starts every function with endbr64, which
    /// the kernel cannot emulate: a uprobe on it costs a single-step trap per call (8–11 µs in this
    /// VM, benchmarks/uprobe_cost). The probes go on the next instruction, the frame pointer's
    /// push here, which it emulates; there the arguments and the return address are as at the
    /// entry. A stand-in libssl built both ways (its SSL_write and SSL_read write and read the
    /// socket) is probed at the push each time, and every request is traced with its status.
    /// </summary>
    [BpfTheory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task OpenSslBuiltForCetIsProbedPastEndbr64(bool cet)
    {
        const string source = """
            #include <unistd.h>
            int SSL_do_handshake(int *ssl) { return 1; }
            int SSL_write(int *ssl, const void *buf, int num) { return (int)write(*ssl, buf, num); }
            int SSL_read(int *ssl, void *buf, int num) { return (int)read(*ssl, buf, num); }
            """;
        using NativeShim library = NativeShim.Compile("libssl.so.3", source, "-fno-omit-frame-pointer", cet ? "-fcf-protection=full" : "-fcf-protection=none");
        byte[] image = File.ReadAllBytes(library.Path);
        Dictionary<string, ulong> offsets = ElfSymbols.FindFunctions(library.Path, ["SSL_read", "SSL_write"]);
        Assert.Equal(2, offsets.Count);
        foreach (ulong offset in offsets.Values)
        {
            Assert.Equal(0x55, image[offset]); // push %rbp
            Assert.Equal(cet, image.AsSpan((int)offset - 4, 4).SequenceEqual(new byte[] { 0xf3, 0x0f, 0x1e, 0xfa })); // endbr64 before it
        }

        await FakeLibsslClientAsync(library.Path, ex: false, _ => { });
    }

    /// <summary>
    /// Debian's SSL_read and SSL_write begin with `sub $0x18,%rsp`, which the kernel single-steps
    /// (about 9 µs a call here); the functions they and their _ex variants call first,
    /// ssl_read_internal and ssl_write_internal, begin with a push, which it emulates. A stand-in
    /// libssl shaped so (its public functions in assembly, as Debian's compiler wrote them; its
    /// internal ones in C with frame pointers, reading and writing the socket) is probed at the
    /// internal functions, and every request is traced with its status, through SSL_read and
    /// SSL_write as through SSL_read_ex and SSL_write_ex. The same holds for this machine's libssl
    /// when its public entries are not pushes. Where SSL_peek calls the same function first as
    /// SSL_read (a helper they share, as if the internal functions had been inlined), SSL_read and
    /// SSL_read_ex are probed themselves. Where the write function takes flags fourth and the byte
    /// count's address fifth (OpenSSL 3.3 on: "flags"), SSL_write's partner is SSL_write_ex2, which
    /// SSL_write_ex tail-calls through the PLT ("flags+ex2": SSL_write_ex needs no probe of its own,
    /// as in Debian 13's libssl 3.5, unless it does anything else first: "flags+ex2+other", where it
    /// keeps its probe and each call is reported once); without SSL_write_ex2 ("flags") the public
    /// functions are probed.
    /// </summary>
    [BpfTheory]
    [InlineData(false, false, "count")]
    [InlineData(true, false, "count")]
    [InlineData(false, true, "count")]
    [InlineData(true, false, "flags")]
    [InlineData(false, false, "flags+ex2")]
    [InlineData(true, false, "flags+ex2")]
    [InlineData(true, false, "flags+ex2+other")]
    public async Task PublicFunctionsTheKernelWouldSingleStepAreProbedAtTheFunctionTheyCallFirst(bool ex, bool peekCallsItFirst, string writeShape)
    {
        string source = """
            #include <stddef.h>
            #include <unistd.h>
            #define HIDDEN __attribute__((visibility("hidden"), noinline, used))
            HIDDEN int read_internal(int *ssl, void *buf, size_t num, size_t *bytes)
            {
                ssize_t n = read(*ssl, buf, num);
                if (n <= 0) return (int)n;
                *bytes = (size_t)n;
                return 1;
            }
            HIDDEN int write_internal(int *ssl, const void *buf, size_t num, size_t *bytes)
            {
                ssize_t n = write(*ssl, buf, num);
                if (n <= 0) return (int)n;
                *bytes = (size_t)n;
                return 1;
            }
            HIDDEN int write_internal_flags(int *ssl, const void *buf, size_t num, unsigned long flags, size_t *bytes)
            {
                return write_internal(ssl, buf, num, bytes);
            }
            #define PUBLIC(name, internal) \
                __attribute__((naked)) int name(int *ssl, void *buf, int num) { __asm__( \
                    "sub $0x18,%rsp\n movslq %edx,%rdx\n mov %rsp,%rcx\n call " #internal "\n" \
                    "test %eax,%eax\n jle 1f\n mov (%rsp),%eax\n1: add $0x18,%rsp\n ret"); }
            #define PUBLIC_EX(name, internal) \
                __attribute__((naked)) int name(int *ssl, void *buf, size_t num, size_t *bytes) { __asm__( \
                    "sub $0x8,%rsp\n call " #internal "\n xor %edx,%edx\n test %eax,%eax\n cmovs %edx,%eax\n" \
                    "add $0x8,%rsp\n ret"); }
            #define PUBLIC_FLAGS(name, internal) \
                __attribute__((naked)) int name(int *ssl, void *buf, int num) { __asm__( \
                    "sub $0x18,%rsp\n movslq %edx,%rdx\n xor %ecx,%ecx\n mov %rsp,%r8\n call " #internal "\n" \
                    "test %eax,%eax\n jle 1f\n mov (%rsp),%eax\n1: add $0x18,%rsp\n ret"); }
            #define PUBLIC_FLAGS_EX(name, internal) \
                __attribute__((naked)) int name(int *ssl, void *buf, size_t num, size_t *bytes) { __asm__( \
                    "sub $0x8,%rsp\n mov %rcx,%r8\n xor %ecx,%ecx\n call " #internal "\n xor %edx,%edx\n test %eax,%eax\n" \
                    "cmovs %edx,%eax\n add $0x8,%rsp\n ret"); }
            PUBLIC(SSL_read, read_internal)
            PUBLIC_EX(SSL_read_ex, read_internal)
            int SSL_do_handshake(int *ssl) { return 1; }
            """ + (peekCallsItFirst ? "PUBLIC(SSL_peek, read_internal)\nPUBLIC_EX(SSL_peek_ex, read_internal)\n" : "")
            + writeShape switch
            {
                "flags" => "PUBLIC_FLAGS(SSL_write, write_internal_flags)\nPUBLIC_FLAGS_EX(SSL_write_ex, write_internal_flags)\n",
                "flags+ex2" or "flags+ex2+other" => "PUBLIC_FLAGS(SSL_write, write_internal_flags)\nPUBLIC_EX(SSL_write_ex2, write_internal_flags)\n"
                    + "__attribute__((naked)) int SSL_write_ex(int *ssl, void *buf, size_t num, size_t *bytes) "
                    + $"{{ __asm__(\"mov %rcx,%r8\\n xor %ecx,%ecx\\n{(writeShape == "flags+ex2" ? "" : " nop\\n")} jmp SSL_write_ex2\"); }}\n",
                _ => "PUBLIC(SSL_write, write_internal)\nPUBLIC_EX(SSL_write_ex, write_internal)\n",
            };
        using NativeShim library = NativeShim.Compile("libssl.so.3", source, "-fno-omit-frame-pointer", "-fcf-protection=none");

        await FakeLibsslClientAsync(library.Path, ex, probes =>
        {
            byte[] image = File.ReadAllBytes(library.Path);
            Dictionary<string, ulong> offsets = probes.Tls!.ProbeOffsetsOf(library.Path);
            string[] read = peekCallsItFirst ? ["SSL_read", "SSL_read_ex"] : ["ssl_read_internal"];
            string[] write = writeShape switch
            {
                "flags" => ["SSL_write", "SSL_write_ex"],
                "flags+ex2" => ["ssl_write_internal (flags)"],
                "flags+ex2+other" => ["SSL_write_ex", "ssl_write_internal (flags)"],
                _ => ["ssl_write_internal"],
            };
            string[] expected = ["SSL_do_handshake", .. read, .. write];
            Assert.Equal(expected.Order(StringComparer.Ordinal), offsets.Keys.Order(StringComparer.Ordinal));
            Dictionary<string, ulong> functions = ElfSymbols.FindFunctions(library.Path, ["read_internal", "write_internal", "write_internal_flags"]);
            if (!peekCallsItFirst)
                Assert.Equal(functions["read_internal"], offsets["ssl_read_internal"]);
            if (writeShape == "count")
                Assert.Equal(functions["write_internal"], offsets["ssl_write_internal"]);
            if (writeShape.StartsWith("flags+ex2", StringComparison.Ordinal))
                Assert.Equal(functions["write_internal_flags"], offsets["ssl_write_internal (flags)"]);
            Assert.All(functions.Values, offset => Assert.Equal(0x55, image[offset])); // push %rbp
        });

        // this machine's libssl: its public functions, where they begin with a push; else the internal ones
        foreach (string system in s_systemLibssl.Where(File.Exists).Take(1))
        {
            Dictionary<string, ulong> found = ElfSymbols.FindFunctions(system, ["SSL_read", "SSL_read_ex"]);
            ulong? callee = ElfSymbols.SharedFirstCallee(system, [found["SSL_read"], found["SSL_read_ex"]]);
            bool pushes = ElfSymbols.StartsWithPush(system, found["SSL_read"]) && ElfSymbols.StartsWithPush(system, found["SSL_read_ex"]);
            Assert.True(pushes || (callee is not null && ElfSymbols.PassesStackAddressBeforeFirstCall(system, found["SSL_read"], CountRegister.Rcx)),
                $"{system}: SSL_read does not begin with a push, and no internal function was found");
        }
    }

    [BpfTheory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task ProcessThatLoadsItsOwnCopyOfLibsslAfterTracingBeganIsTraced(bool syscallHooks)
    {
        // A libssl outside the system's directories (a virtualenv's, a bundled one) is not attached
        // in advance: the kernel reports it as the process loads it (its mapping with the socket
        // hooks, its openat with the syscall hooks).
        string system = s_systemLibssl.First(File.Exists);
        string dir = Directory.CreateTempSubdirectory("beyla-own-libssl-").FullName;
        try
        {
            string copy = Path.Combine(dir, "libssl.so.3");
            File.Copy(system, copy);
            int port = FreePort.Next();
            using ServerProcess server = StartNodeHttps(port);
            using GatedClient client = await GatedClient.StartProgramAsync("env",
                [$"LD_LIBRARY_PATH={dir}", "python3", Path.Combine(TestEnvironment.ServersDirectory, "python_late_tls_client.py"), "--hold", Port(port), .. s_requests.Select(r => r.Path)]);
            SocketProbeSet? probes = null;
            await using BeylaTracer tracer = HookChoice.Build(new BeylaBuilder().TraceProcesses(p => p.ProcessId(client.Pid))
                .WithEventSource(context => probes = new SocketProbeSet(context)), syscallHooks);
            await using var collector = new SpanCollector(tracer);
            // Probes for the copy come once the kernel has reported it loaded, and attaching takes
            // it a grace period or more (tens of milliseconds here): the client waits for them
            // before it connects. What is tested is that they come, and what they see.
            await client.GoUntilAsync("loaded");
            await WaitForTlsProbesAsync(probes!, client.Pid, copy);
            string[] codes = await client.RunAsync();
            Assert.Equal(s_requests.Select(r => r.Status.ToString(CultureInfo.InvariantCulture)), codes);
            List<HttpSpan> spans = await collector.WaitForAsync(s_requests.Length, s => s.ProcessId == client.Pid);
            AssertSpans(spans, HttpSpanKind.Client);
            Assert.Equal(0, tracer.Statistics.TotalLost);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [BpfTheory]
    [InlineData(false)]
    [InlineData(true)]
    public Task KestrelHttpsServer(bool perfUprobes) => ServerAndCurlAsync(StartKestrelHttps,
        (p, server) => p.ProcessId(server.Pid), traceCurl: false, perfUprobes: perfUprobes);

    // Servers that move their ciphertext themselves, with connections whose handshakes overlap.
    // Kestrel's thread pool runs several connections' SSL calls before their socket writes, in
    // another order: its sockets are found by the ciphertext OpenSSL's memory BIO holds. Node's
    // BIO is its own, and one thread makes each connection's SSL calls and then its writes: its
    // sockets are taken as the ones written next. Either way each connection's spans carry its
    // own requests and its own client port, every one of them.
    [BpfTheory]
    [InlineData("kestrel", false)]
    [InlineData("kestrel", true)]
    [InlineData("node", false)]
    public async Task ServerWithHandshakesThatOverlap(string serverName, bool perfUprobes)
    {
        const int Connections = 16, Requests = 20;
        int port = FreePort.Next();
        using ServerProcess server = serverName == "node" ? StartNodeHttps(port) : StartKestrelHttps(port);
        SocketProbeSet? probes = null;
        await using BeylaTracer tracer = HookChoice.BuildTls(new BeylaBuilder()
            .TraceProcesses(p => p.ProcessId(server.Pid))
            .WithEventSource(context => probes = new SocketProbeSet(context)), perfUprobes);
        await using var collector = new SpanCollector(tracer);
        await WaitForTlsProbesAsync(probes!, server.Pid);

        var info = new ProcessStartInfo("python3") { RedirectStandardOutput = true, UseShellExecute = false };
        foreach (string a in new[] { Path.Combine(TestEnvironment.ServersDirectory, "python_concurrent_tls_client.py"), Port(port), Port(Connections), Port(Requests) })
            info.ArgumentList.Add(a);
        using Process client = Process.Start(info)!;
        string[] lines = (await client.StandardOutput.ReadToEndAsync().WaitAsync(TimeSpan.FromSeconds(60))).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        await client.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(0, client.ExitCode);
        Assert.Equal("done", lines[^1]);
        Dictionary<int, int> connectionOfPort = lines[..^1].Select(l => l.Split(' ')).ToDictionary(
            f => int.Parse(f[1], CultureInfo.InvariantCulture), f => int.Parse(f[0], CultureInfo.InvariantCulture));
        Assert.Equal(Connections, connectionOfPort.Count);

        List<HttpSpan> spans = await collector.WaitForAsync(Connections * Requests, s => s.ProcessId == server.Pid);
        Assert.Equal(Connections * Requests, spans.Count);
        Assert.All(spans, s => Assert.True(s.IsTls && s.StatusCode == 200 && s.LocalPort == port));
        foreach ((int clientPort, int connection) in connectionOfPort)
        {
            string[] paths = [.. spans.Where(s => s.PeerPort == clientPort).Select(s => s.Path)];
            Assert.Equal(Enumerable.Range(0, Requests).Select(j => $"/hello/c{connection}/r{j}"), paths);
        }
        // how each socket was found
        (int byCiphertext, int guessed) = serverName == "node" ? (0, Connections) : (Connections, 0);
        Assert.Equal(byCiphertext, probes!.ReadStat(KernelStat.TlsSocketsByCiphertext));
        Assert.Equal(guessed, probes.ReadStat(KernelStat.TlsSocketsGuessed));
    }

    [BpfFact]
    public async Task NginxHttpsServerSelectedByPort()
    {
        string dir = Directory.CreateTempSubdirectory("beyla-nginx-tls-").FullName;
        try
        {
            await ServerAndCurlAsync(port =>
            {
                string conf = NginxConfig.Write(dir, $$"""
                            listen 127.0.0.1:{{port}} ssl;
                            ssl_certificate {{_certificate.CertificatePath}};
                            ssl_certificate_key {{_certificate.KeyPath}};
                            location /hello/ { return 200 "hello from nginx\n"; }
                            location = /status/500 { return 500 "status\n"; }
                    """);
                return ServerProcess.Start("nginx", ["-c", conf, "-p", dir], port);
            }, (p, server) => p.ListeningOn(server.Port), traceCurl: false, anyPidOf: "nginx");
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [BpfFact]
    public async Task HttpClientInThisProcess()
    {
        int port = FreePort.Next();
        using ServerProcess server = ServerProcess.Start("python3",
            [Path.Combine(TestEnvironment.ServersDirectory, "python_server.py"), Port(port), _certificate.CertificatePath, _certificate.KeyPath], port);
        await using BeylaTracer tracer = new BeylaBuilder().TraceProcesses(p => p.Current()).WithHttpProbes().Build();
        await using var collector = new SpanCollector(tracer);

        using var handler = new HttpClientHandler { ServerCertificateCustomValidationCallback = (_, _, _, _) => true };
        using var client = new HttpClient(handler) { BaseAddress = new Uri($"https://127.0.0.1:{port}") };
        foreach ((string path, int status) in s_requests)
        {
            using HttpResponseMessage response = await client.GetAsync(path);
            await response.Content.ReadAsByteArrayAsync();
            Assert.Equal(status, (int)response.StatusCode);
        }

        List<HttpSpan> spans = await collector.WaitForAsync(s_requests.Length, s => s.ProcessId == Environment.ProcessId && s.PeerPort == port);
        AssertSpans(spans, HttpSpanKind.Client);
    }

    private static async Task ServerAndCurlAsync(Func<int, ServerProcess> start, Action<ProcessSelector, ServerProcess> select, bool traceCurl, string? anyPidOf = null, bool perfUprobes = false)
    {
        int port = FreePort.Next();
        using ServerProcess server = start(port);
        SocketProbeSet? probes = null;
        var logger = new RecordingLogger(LogLevel.Debug);
        await using BeylaTracer tracer = HookChoice.BuildTls(new BeylaBuilder()
            .TraceProcesses(p =>
            {
                select(p, server);
                if (traceCurl)
                    p.ExecutableName("curl");
            })
            .WithEventSource(context => probes = new SocketProbeSet(context))
            .WithLogging(new RecordingLoggerFactory(logger)), perfUprobes);
        if (HookChoice.KernelHasProcessFilteredUprobeMultiLinks)
            Assert.Equal(!perfUprobes, probes!.Tls!.UsesUprobeMultiLinks); // the way this case is about
        await using var collector = new SpanCollector(tracer);

        // A traced curl is given its TLS probes when it starts, which takes the kernel a grace
        // period or more (tens of milliseconds here); curl sends its first request sooner. It is
        // held on its configuration until they are there: what is tested here is what they see.
        int curlPid = await CurlAsync(port, traceCurl ? pid => WaitForTlsProbesAsync(probes!, pid) : null);

        Func<HttpSpan, bool> fromServer = anyPidOf is null ? s => s.ProcessId == server.Pid : s => s.Kind == HttpSpanKind.Server && s.LocalPort == port;
        List<HttpSpan> serverSpans = await collector.WaitForAsync(s_requests.Length, fromServer);
        AssertSpans(serverSpans, HttpSpanKind.Server);
        Assert.All(serverSpans, s => Assert.Equal(port, s.LocalPort));
        if (traceCurl)
        {
            List<HttpSpan> clientSpans = await collector.WaitForAsync(s_requests.Length, s => s.ProcessId == curlPid);
            AssertSpans(clientSpans, HttpSpanKind.Client);
            for (int i = 0; i < s_requests.Length; i++)
            {
                Assert.Equal(serverSpans[i].RequestBytes, clientSpans[i].RequestBytes);
                Assert.Equal(serverSpans[i].ResponseBytes, clientSpans[i].ResponseBytes);
            }
            // A thread's last SSL call stays noted (tls_calls, keyed by pid_tgid: the tgid is the
            // upper half) until the thread ends: curl has exited, and its notes went with it. The
            // server's main thread, which made the handshakes, is still there.
            List<int> noted = KernelObjects.OwnMapKeyWords("tls_calls", offset: 4);
            Assert.Contains(server.Pid, noted);
            Assert.DoesNotContain(curlPid, noted);
        }
        // Every handshake came after an SSL call the probes saw, whether the program's socket
        // BIO wrote it inside the call (Python, curl) or the program itself after (Kestrel, Node).
        await probes!.Tls!.QueuedWorkDone().WaitAsync(TimeSpan.FromSeconds(30)); // any report's explanation logged by now
        Assert.DoesNotContain(logger.Entries, e => e.EventId.Id is HandshakeBeforeProbesEvent or HandshakeWithoutOpenSslEvent or HandshakeNotThroughProbesEvent);
    }

    /// <summary>
    /// Sends every request with one curl (HTTP/1.1, one connection); returns curl's pid. When
    /// <paramref name="beforeRequests"/> is given, curl is started first and waits for its
    /// configuration (the URLs, on its standard input) until that task, given curl's pid, is done.
    /// </summary>
    private static async Task<int> CurlAsync(int port, Func<int, Task>? beforeRequests = null)
    {
        var info = new ProcessStartInfo("curl") { RedirectStandardOutput = true, RedirectStandardInput = true, UseShellExecute = false };
        foreach (string a in new[] { "--http1.1", "-sk", "-w", "%{http_code}\\n", "-K", "-" })
            info.ArgumentList.Add(a);
        using Process curl = Process.Start(info)!;
        if (beforeRequests is not null)
            await beforeRequests(curl.Id);
        foreach ((string path, _) in s_requests)
            await curl.StandardInput.WriteAsync($"url = \"https://127.0.0.1:{port}{path}\"\noutput = \"/dev/null\"\n");
        curl.StandardInput.Close();
        string[] codes = (await curl.StandardOutput.ReadToEndAsync()).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        await curl.WaitForExitAsync();
        Assert.Equal(s_requests.Select(r => r.Status.ToString(CultureInfo.InvariantCulture)), codes);
        return curl.Id;
    }

    /// <summary>
    /// GETs every request with python_fake_libssl_client.py through <paramref name="library"/> (its
    /// _ex functions when <paramref name="ex"/>) from a Python HTTP server, traced from the moment
    /// the client has loaded it and its probes are there; <paramref name="checkProbes"/> looks at
    /// the probe set then. Every request must be a client span with its status.
    /// </summary>
    private static async Task FakeLibsslClientAsync(string library, bool ex, Action<SocketProbeSet> checkProbes)
    {
        int port = FreePort.Next();
        using ServerProcess server = ServerProcess.Start("python3", [Path.Combine(TestEnvironment.ServersDirectory, "python_server.py"), Port(port)], port);
        using GatedClient client = await GatedClient.StartAsync("python3", "python_fake_libssl_client.py",
            [.. ex ? ["--ex"] : Array.Empty<string>(), library, Port(port), .. s_requests.Select(r => r.Path)]);
        SocketProbeSet? probes = null;
        await using BeylaTracer tracer = new BeylaBuilder().TraceProcesses(p => p.ProcessId(client.Pid))
            .WithEventSource(context => probes = new SocketProbeSet(context)).Build();
        await using var collector = new SpanCollector(tracer);
        await client.GoUntilAsync("loaded");
        await WaitForTlsProbesAsync(probes!, client.Pid, library);
        checkProbes(probes!);
        string[] codes = await client.RunAsync();
        Assert.Equal(s_requests.Select(r => r.Status.ToString(CultureInfo.InvariantCulture)), codes);
        List<HttpSpan> spans = await collector.WaitForAsync(s_requests.Length, s => s.ProcessId == client.Pid);
        AssertSpans(spans, HttpSpanKind.Client);
        Assert.All(spans, s => Assert.Equal(port, s.PeerPort));
        Assert.Equal(0, tracer.Statistics.TotalLost);
    }

    /// <summary>Waits until process <paramref name="pid"/> has TLS probes of its own (on <paramref name="file"/>, when given).</summary>
    private static async Task WaitForTlsProbesAsync(SocketProbeSet probes, int pid, string? file = null)
    {
        var deadline = Stopwatch.StartNew();
        while (probes.Tls!.ProbedFiles(pid) is var files && (file is null ? files.Length == 0 : !files.Contains(file)))
        {
            Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(10), $"process {pid} was given no TLS probes{(file is null ? "" : $" on {file}")} in 10 s");
            await Task.Delay(5);
        }
    }

    /// <summary>Waits up to 10 s for <paramref name="logger"/> to record event <paramref name="eventId"/>; what it must say is asserted after.</summary>
    private static async Task WaitForLogAsync(RecordingLogger logger, int eventId)
    {
        var deadline = Stopwatch.StartNew();
        while (!logger.Entries.Any(e => e.EventId.Id == eventId) && deadline.Elapsed < TimeSpan.FromSeconds(10))
            await Task.Delay(50);
    }

    private static void AssertSpans(List<HttpSpan> spans, HttpSpanKind kind)
    {
        Assert.Equal(s_requests.Length, spans.Count);
        for (int i = 0; i < s_requests.Length; i++)
        {
            Assert.Equal(kind, spans[i].Kind);
            Assert.True(spans[i].IsTls);
            Assert.Equal("GET", spans[i].Method);
            Assert.Equal(s_requests[i].Path.Split('?')[0], spans[i].Path);
            Assert.Null(spans[i].QueryString);
            Assert.Equal(s_requests[i].Status, spans[i].StatusCode);
            Assert.Equal(IPAddress.Loopback, spans[i].PeerAddress);
            Assert.True(spans[i].RequestBytes > 0 && spans[i].ResponseBytes > 0 && spans[i].DurationNanoseconds > 0);
        }
    }

    /// <summary>The Node HTTPS test server (tests/servers/node_server.js) on <paramref name="port"/>, with the test certificate.</summary>
    private ServerProcess StartNodeHttps(int port) => ServerProcess.Start("node",
        [Path.Combine(TestEnvironment.ServersDirectory, "node_server.js"), Port(port), _certificate.CertificatePath, _certificate.KeyPath], port);

    /// <summary>The Kestrel test server over HTTPS on <paramref name="port"/>, with the test certificate.</summary>
    private ServerProcess StartKestrelHttps(int port) => ServerProcess.Start("dotnet",
        [TestEnvironment.KestrelServerDll, "--urls", $"https://127.0.0.1:{port}"], port, environment: new Dictionary<string, string>
        {
            ["ASPNETCORE_Kestrel__Certificates__Default__Path"] = _certificate.CertificatePath,
            ["ASPNETCORE_Kestrel__Certificates__Default__KeyPath"] = _certificate.KeyPath,
        });

    private static string Port(int port) => port.ToString(CultureInfo.InvariantCulture);
}
