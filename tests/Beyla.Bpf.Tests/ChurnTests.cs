using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Beyla.Implementation;
using Xunit.Abstractions;

namespace Beyla.Bpf.Tests;

/// <summary>
/// File descriptors and process ids reused under churn: thousands of short connections and of
/// short-lived traced processes. Every exchange keeps its own request, response, peer and
/// process, and nothing of the connections or processes that are gone stays behind, in the
/// kernel's maps or in the probe set's managed state.
/// </summary>
public sealed class ChurnTests
{
    // Statuses the Python server gives for /status/NNN/...: each request's status comes from its
    // own path, so a response paired with another connection's request shows.
    private static readonly int[] s_statuses = [200, 201, 202, 203, 206, 400, 401, 403, 404, 409, 410, 418, 429, 500, 502, 503];

    private readonly ITestOutputHelper _output;

    public ChurnTests(ITestOutputHelper output) => _output = output;

    [BpfFact]
    public async Task ThousandsOfShortConnectionsReuseFdsAndEachExchangeKeepsItsOwnRequestResponseAndPeer()
    {
        const int connections = 3000;
        const int workers = 4;
        using ServerProcess server = StartServer();
        int port = server.Port;
        await using BeylaTracer tracer = new BeylaBuilder().TraceProcesses(p => p.ProcessId(server.Pid)).WithHttpProbes().Build();
        await using var collector = new SpanCollector(tracer);

        // One connection per request, closed right after the response: the server's fds are
        // reused all the time, by connections that overlap on several threads.
        var sent = new ConcurrentDictionary<string, (int Status, int ClientPort, long RequestBytes, long ResponseBytes)>();
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, workers).Select(w => Task.Run(() =>
        {
            for (int i = w; i < connections; i += workers)
            {
                int status = s_statuses[i % s_statuses.Length];
                string path = $"/status/{status}/churn/{i}";
                byte[] request = Encoding.ASCII.GetBytes($"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
                using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                socket.Connect(IPAddress.Loopback, port);
                int clientPort = ((IPEndPoint)socket.LocalEndPoint!).Port;
                socket.Send(request);
                byte[] response = ReadToEnd(socket);
                Assert.Equal($"HTTP/1.1 {status} ", Encoding.ASCII.GetString(response, 0, 13));
                Assert.True(sent.TryAdd(path, (status, clientPort, request.Length, response.Length)));
            }
        })));
        TimeSpan sending = clock.Elapsed;

        List<HttpSpan> spans = await WaitForCountAsync(collector, connections, TimeSpan.FromSeconds(30));
        _output.WriteLine($"{connections} connections in {sending.TotalSeconds:F1} s ({connections / sending.TotalSeconds:F0}/s), {spans.Count} spans, {tracer.Statistics.EventsLostInSources} lost");

        Assert.Equal(connections, spans.Count);
        Assert.Equal(sent.Keys.Order(StringComparer.Ordinal), spans.Select(s => s.Path).Order(StringComparer.Ordinal));
        foreach (HttpSpan span in spans)
        {
            (int status, int clientPort, long requestBytes, long responseBytes) = sent[span.Path];
            Assert.Equal(
                (HttpSpanKind.Server, server.Pid, status, clientPort, requestBytes, responseBytes, SpanEndReason.ResponseComplete),
                (span.Kind, span.ProcessId, span.StatusCode, span.PeerPort, span.RequestBytes, span.ResponseBytes, span.EndReason));
        }
        Assert.Equal(0, tracer.Statistics.EventsLostInSources);
        // Every connection was closed by the server: none is left in the kernel.
        Assert.DoesNotContain(server.Pid, KernelObjects.OwnMapKeyWords("connections"));
    }

    [BpfFact]
    public async Task ThousandsOfShortLivedTracedProcessesEachGetTheirOwnSpansAndLeaveNoState()
    {
        const int processes = 2000;
        using ServerProcess server = StartServer();
        SocketProbeSet? probes = null;
        await using BeylaTracer tracer = new BeylaBuilder()
            .TraceProcesses(p => p.ExecutableName("curl").ProcessId(server.Pid))
            .Configure(o => o.TraceTls = false) // TLS probes have a test of their own below
            .WithEventSource(context => probes = new SocketProbeSet(context))
            .Build();
        await using var collector = new SpanCollector(tracer);
        var delays = new ConcurrentQueue<double>();
        using var stopMeasuring = new CancellationTokenSource();
        Task measuring = MeasureDeliveryAsync(tracer, delays, stopMeasuring.Token);

        // A curl per request, each traced from its exec by the kernel and forgotten at its exit.
        var clock = Stopwatch.StartNew();
        List<(string Path, int Status, int Pid)> sent = await RunCurlsAsync(server.Port, processes, slowMs: 0);
        TimeSpan sending = clock.Elapsed;
        HashSet<int> curlPids = sent.Select(s => s.Pid).ToHashSet();

        List<HttpSpan> spans = await WaitForCountAsync(collector, 2 * processes, TimeSpan.FromSeconds(30));
        TimeSpan settled = await SettleAsync(probes!, curlPids);
        List<string> leftovers = Leftovers(probes!, curlPids);
        await stopMeasuring.CancelAsync();
        await measuring;
        _output.WriteLine(Delivery(delays));
        _output.WriteLine($"{processes} curl processes ({curlPids.Count} distinct pids, {curlPids.Min()}..{curlPids.Max()}) in {sending.TotalSeconds:F1} s ({processes / sending.TotalSeconds:F0}/s); " +
            $"{spans.Count} spans, {tracer.Statistics.EventsLostInSources} lost; state gone {settled.TotalSeconds:F1} s after the last exit; " +
            $"client service names: {string.Join(", ", spans.Where(s => s.Kind == HttpSpanKind.Client).GroupBy(s => s.ServiceName).Select(g => $"{g.Key} {g.Count()}"))}");

        AssertClientAndServerSpans(sent, spans, server);
        Assert.Equal(0, tracer.Statistics.EventsLostInSources);
        Assert.Empty(leftovers);
    }

    [BpfFact]
    public async Task AServerThatForksAProcessPerConnectionHasEveryRequestTracedAndLeavesNoState()
    {
        const int connections = 1000;
        const int workers = 2;
        int port = FreePort.Next();
        using ServerProcess server = ServerProcess.Start("python3", [Path.Combine(TestEnvironment.ServersDirectory, "forking_server.py"), port.ToString(CultureInfo.InvariantCulture)], port);
        SocketProbeSet? probes = null;
        // Only the parent is selected: the kernel traces its forks from their first instruction.
        await using BeylaTracer tracer = new BeylaBuilder()
            .TraceProcesses(p => p.ProcessId(server.Pid))
            .WithEventSource(context => probes = new SocketProbeSet(context))
            .Build();
        await using var collector = new SpanCollector(tracer);

        var sent = new ConcurrentDictionary<string, (int Status, int ClientPort)>();
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, workers).Select(w => Task.Run(() =>
        {
            for (int i = w; i < connections; i += workers)
            {
                int status = s_statuses[i % s_statuses.Length];
                string path = $"/status/{status}/forked/{i}";
                using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                socket.Connect(IPAddress.Loopback, port);
                socket.Send(Encoding.ASCII.GetBytes($"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"));
                byte[] response = ReadToEnd(socket);
                Assert.Equal($"HTTP/1.1 {status} ", Encoding.ASCII.GetString(response, 0, 13));
                Assert.True(sent.TryAdd(path, (status, ((IPEndPoint)socket.LocalEndPoint!).Port)));
            }
        })));
        TimeSpan sending = clock.Elapsed;

        List<HttpSpan> spans = await WaitForCountAsync(collector, connections, TimeSpan.FromSeconds(30));
        HashSet<int> children = spans.Select(s => s.ProcessId).ToHashSet();
        children.Remove(server.Pid);
        TimeSpan settled = await SettleAsync(probes!, children);
        _output.WriteLine($"{connections} connections in {sending.TotalSeconds:F1} s ({connections / sending.TotalSeconds:F0}/s), each served by a forked process; " +
            $"{spans.Count} spans from {children.Count} processes, {tracer.Statistics.EventsLostInSources} lost; state gone {settled.TotalSeconds:F1} s after the last request");

        Assert.Equal(connections, spans.Count);
        Assert.Equal(sent.Keys.Order(StringComparer.Ordinal), spans.Select(s => s.Path).Order(StringComparer.Ordinal));
        foreach (HttpSpan span in spans)
            Assert.Equal((HttpSpanKind.Server, sent[span.Path].Status, sent[span.Path].ClientPort), (span.Kind, span.StatusCode, span.PeerPort));
        Assert.Equal(connections, children.Count); // a process of its own for each, none the parent
        Assert.Equal(0, tracer.Statistics.EventsLostInSources);
        Assert.Empty(Leftovers(probes!, children));
        Assert.Equal([server.Pid], KernelObjects.OwnMapKeyWords("traced_pids"));
        Assert.Equal([server.Pid], probes!.TracedPidBits);
        Assert.Equal([server.Pid], probes!.TracedProcessIds);
    }

    [BpfFact]
    public async Task AForkOfATracedProcessIsTracedAndAProgramItExecsIsNot()
    {
        using ServerProcess server = StartServer(); // not traced
        var info = new ProcessStartInfo("python3") { RedirectStandardInput = true, RedirectStandardOutput = true, UseShellExecute = false };
        info.ArgumentList.Add(Path.Combine(TestEnvironment.ServersDirectory, "fork_exec_client.py"));
        info.ArgumentList.Add(server.Port.ToString(CultureInfo.InvariantCulture));
        using Process client = Process.Start(info)!;
        try
        {
            await Task.Delay(1000); // the interpreter is running (python3 may be a launcher script that execs it)
            await using BeylaTracer tracer = new BeylaBuilder().TraceProcesses(p => p.ProcessId(client.Id)).WithHttpProbes().Build();
            await using var collector = new SpanCollector(tracer);

            await client.StandardInput.WriteLineAsync("go");
            var said = new Dictionary<string, (int Pid, int Status)>(StringComparer.Ordinal);
            string? line;
            while ((line = await client.StandardOutput.ReadLineAsync()) is not null)
            {
                string[] f = line.Split(' ');
                said[f[0]] = (int.Parse(f[1], CultureInfo.InvariantCulture), int.Parse(f[2], CultureInfo.InvariantCulture));
            }
            await client.WaitForExitAsync();
            Assert.Equal(client.Id, said["parent"].Pid);
            Assert.All(said.Values, v => Assert.Equal(200, v.Status));

            // The parent and its fork are traced; the curl the fork became is another program.
            List<HttpSpan> spans = await collector.WaitForAsync(2);
            Assert.Equal(
                [(client.Id, "/hello/parent", 200), (said["forked"].Pid, "/hello/forked-child", 200)],
                spans.Select(s => (s.ProcessId, s.Path, s.StatusCode)).OrderBy(s => s.Path, StringComparer.Ordinal).Reverse());
            Assert.All(spans, s => Assert.Equal(HttpSpanKind.Client, s.Kind));
        }
        finally
        {
            if (!client.HasExited)
                client.Kill();
        }
    }

    /// <summary>
    /// Releasing a process's TLS probes costs about a second here (ten uprobes, each waiting for
    /// RCU grace periods under the kernel's event mutex): it is done off the ring-buffer reader,
    /// whose spans keep flowing meanwhile, and it does finish.
    /// </summary>
    [BpfFact]
    public async Task TlsProbesOfShortLivedProcessesAreReleasedWithoutHoldingUpSpans()
    {
        const int processes = 10;
        using ServerProcess server = StartServer();
        SocketProbeSet? probes = null;
        await using BeylaTracer tracer = new BeylaBuilder()
            .TraceProcesses(p => p.ExecutableName("curl").ProcessId(server.Pid))
            .WithEventSource(context => probes = new SocketProbeSet(context))
            .Build();
        await using var collector = new SpanCollector(tracer);
        int attachmentsBefore = KernelObjects.OwnAttachmentFds(); // the server's own TLS probes, attached by Build
        var delays = new ConcurrentQueue<double>();
        using var stopMeasuring = new CancellationTokenSource();
        Task measuring = MeasureDeliveryAsync(tracer, delays, stopMeasuring.Token);

        // Each curl lives a little (its request takes 300 ms), long enough to be given TLS
        // probes of its own (curl maps libssl): up to ten uprobes, each a perf event and a link
        // held by this process.
        int mostProbed = 0;
        using var sampling = new CancellationTokenSource();
        Task sampler = Task.Run(async () =>
        {
            while (!sampling.IsCancellationRequested)
            {
                mostProbed = Math.Max(mostProbed, probes!.TlsProbedProcessIds.Length);
                await Task.Delay(20);
            }
        });
        var clock = Stopwatch.StartNew();
        List<(string Path, int Status, int Pid)> sent = await RunCurlsAsync(server.Port, processes, slowMs: 300);
        TimeSpan sending = clock.Elapsed;
        HashSet<int> curlPids = sent.Select(s => s.Pid).ToHashSet();

        List<HttpSpan> spans = await WaitForCountAsync(collector, 2 * processes, TimeSpan.FromSeconds(30));
        TimeSpan settled = await SettleAsync(probes!, curlPids, () => KernelObjects.OwnAttachmentFds() > attachmentsBefore);
        await sampling.CancelAsync();
        await sampler;
        await stopMeasuring.CancelAsync();
        await measuring;
        _output.WriteLine(Delivery(delays));
        List<string> leftovers = Leftovers(probes!, curlPids);
        _output.WriteLine($"{processes} curl processes in {sending.TotalSeconds:F1} s; at most {mostProbed} had TLS probes at once; {spans.Count} spans, " +
            $"{tracer.Statistics.EventsLostInSources} lost; probes released {settled.TotalSeconds:F1} s after the last exit; probe attachments {attachmentsBefore} before, {KernelObjects.OwnAttachmentFds()} after");

        Assert.True(mostProbed > 0, "no curl was ever given TLS probes: the test tested nothing");
        Assert.True(delays.Max() < 2000, Delivery(delays)); // held up by the releases, spans came seconds late
        AssertClientAndServerSpans(sent, spans, server);
        Assert.Equal(0, tracer.Statistics.EventsLostInSources);
        Assert.Empty(leftovers);
        // Every curl's probes are closed: no more probe attachments (uprobe_multi links, or perf
        // events on older kernels) than before the curls ran. Fewer is right too: the tracer
        // selects every process named curl, so a curl still running when it was built (most
        // likely one of an earlier test's, exiting) got TLS probes then, released when it exited.
        // A whole-suite run once began this test with 9 perf events more.
        int attachmentsAfter = KernelObjects.OwnAttachmentFds();
        Assert.True(attachmentsAfter <= attachmentsBefore, $"probe attachments {attachmentsBefore} before the curls, {attachmentsAfter} after");
    }

    [BpfFact]
    public async Task APidReusedByAProcessNobodySelectedIsNotTraced()
    {
        using ServerProcess server = StartServer();
        SocketProbeSet? probes = null;
        await using BeylaTracer tracer = new BeylaBuilder()
            .TraceProcesses(p => p.ExecutableName("curl").ProcessId(server.Pid))
            .WithEventSource(context => probes = new SocketProbeSet(context))
            .Build();
        await using var collector = new SpanCollector(tracer);

        // A traced curl, gone; then its pid given to a shell that makes a request of its own.
        (string path, int status, int pid) = Assert.Single(await RunCurlsAsync(server.Port, 1, slowMs: 0));
        Assert.Equal(2, (await collector.WaitForAsync(2)).Count);
        await SettleAsync(probes!, [pid]);
        Assert.Empty(Leftovers(probes!, [pid]));

        using Process shell = StartShellWithPid(pid, server.Port);
        Assert.Equal(pid, shell.Id);
        // Alive, with the curl's pid, and not traced: neither by the kernel nor by user space.
        await Task.Delay(1500); // more than a rescan
        Assert.DoesNotContain(pid, KernelObjects.OwnMapKeyWords("traced_pids"));
        Assert.DoesNotContain(pid, probes!.TracedPidBits);
        Assert.DoesNotContain(pid, probes!.TracedProcessIds);
        Assert.DoesNotContain(pid, probes.TlsProbedProcessIds);

        await shell.StandardInput.WriteLineAsync("go");
        shell.StandardInput.Close();
        string response = await shell.StandardOutput.ReadToEndAsync();
        await shell.WaitForExitAsync();
        Assert.StartsWith("HTTP/1.1 200 ", response, StringComparison.Ordinal);

        List<HttpSpan> spans = await collector.WaitForAsync(3);
        Assert.Equal(3, spans.Count);
        Assert.Equal(
            [(HttpSpanKind.Server, server.Pid, path, status), (HttpSpanKind.Client, pid, path, status), (HttpSpanKind.Server, server.Pid, "/hello/reused-pid", 200)],
            spans.Select(s => (s.Kind, s.ProcessId, s.Path, s.StatusCode)).OrderBy(s => s.Path == "/hello/reused-pid").ThenBy(s => s.Kind));
    }

    private static ServerProcess StartServer()
    {
        int port = FreePort.Next();
        return ServerProcess.StartPython(port);
    }

    /// <summary>
    /// Runs <paramref name="count"/> curls from a launcher process (3 at a time), the i-th asking
    /// for /status/NNN/churn/i (after <paramref name="slowMs"/> ms when not 0); returns each one's path, status and pid.
    /// </summary>
    private static async Task<List<(string Path, int Status, int Pid)>> RunCurlsAsync(int port, int count, int slowMs)
    {
        var paths = Enumerable.Range(0, count)
            .Select(i => slowMs > 0 ? $"/slow/{slowMs}/churn/{i}" : $"/status/{s_statuses[i % s_statuses.Length]}/churn/{i}")
            .ToList();
        var info = new ProcessStartInfo("python3") { RedirectStandardInput = true, RedirectStandardOutput = true, UseShellExecute = false };
        info.ArgumentList.Add(Path.Combine(TestEnvironment.ServersDirectory, "spawn_clients.py"));
        info.ArgumentList.Add("3");
        using Process launcher = Process.Start(info)!;
        await launcher.StandardInput.WriteAsync(string.Concat(paths.Select(p => $"http://127.0.0.1:{port}{p}\n")));
        launcher.StandardInput.Close();
        var results = new List<(string, int, int)>();
        string? line;
        while ((line = await launcher.StandardOutput.ReadLineAsync()) is not null)
        {
            string[] fields = line.Split(' ');
            int index = int.Parse(fields[0], CultureInfo.InvariantCulture);
            int status = int.Parse(fields[2], CultureInfo.InvariantCulture);
            Assert.Equal(slowMs > 0 ? 200 : s_statuses[index % s_statuses.Length], status);
            results.Add((paths[index], status, int.Parse(fields[1], CultureInfo.InvariantCulture)));
        }
        await launcher.WaitForExitAsync();
        Assert.Equal(0, launcher.ExitCode);
        Assert.Equal(count, results.Count);
        return results;
    }

    /// <summary>One client span per curl, from that curl's pid, and one server span, each with the status of its own path and the client's port as peer.</summary>
    private static void AssertClientAndServerSpans(List<(string Path, int Status, int Pid)> sent, List<HttpSpan> spans, ServerProcess server)
    {
        var clients = spans.Where(s => s.Kind == HttpSpanKind.Client).ToList();
        var servers = spans.Where(s => s.Kind == HttpSpanKind.Server).ToList();
        Assert.Equal(sent.Count, clients.Count);
        Assert.Equal(sent.Count, servers.Count);
        // The kernel names each client by its command name, though the curl has exited by the time its span is decoded.
        Assert.All(clients, c => Assert.Equal("curl", c.ServiceName));
        Assert.Equal(sent.Select(s => s.Path).Order(StringComparer.Ordinal), clients.Select(s => s.Path).Order(StringComparer.Ordinal));
        Assert.Equal(sent.Select(s => s.Path).Order(StringComparer.Ordinal), servers.Select(s => s.Path).Order(StringComparer.Ordinal));
        Dictionary<string, HttpSpan> serverByPath = servers.ToDictionary(s => s.Path, StringComparer.Ordinal);
        Dictionary<string, (string Path, int Status, int Pid)> sentByPath = sent.ToDictionary(s => s.Path, StringComparer.Ordinal);
        foreach (HttpSpan client in clients)
        {
            (_, int status, int pid) = sentByPath[client.Path];
            HttpSpan served = serverByPath[client.Path];
            Assert.Equal((pid, status, SpanEndReason.ResponseComplete, server.Port), (client.ProcessId, client.StatusCode, client.EndReason, client.PeerPort));
            Assert.Equal((server.Pid, status, client.LocalPort), (served.ProcessId, served.StatusCode, served.PeerPort));
        }
    }

    /// <summary>Waits until nothing of <paramref name="gone"/> is left (or 30 s); returns how long that took.</summary>
    private static async Task<TimeSpan> SettleAsync(SocketProbeSet probes, HashSet<int> gone, Func<bool>? alsoWaitWhile = null)
    {
        var settle = Stopwatch.StartNew();
        while ((Leftovers(probes, gone).Count > 0 || alsoWaitWhile?.Invoke() == true) && settle.Elapsed < TimeSpan.FromSeconds(30))
            await Task.Delay(100);
        return settle.Elapsed;
    }

    /// <summary>Records, for each span, how long after the end of its exchange it reached a consumer (ms).</summary>
    private static async Task MeasureDeliveryAsync(BeylaTracer tracer, ConcurrentQueue<double> delays, CancellationToken stop)
    {
        try
        {
            await foreach (HttpSpan span in tracer.Spans(stop))
            {
                long end = span.StartTimestamp + (long)(span.DurationNanoseconds * (double)Stopwatch.Frequency / 1e9);
                delays.Enqueue((Stopwatch.GetTimestamp() - end) * 1000.0 / Stopwatch.Frequency);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private static string Delivery(ConcurrentQueue<double> delays)
    {
        double[] sorted = [.. delays.Order()];
        return sorted.Length == 0 ? "no span delivered" :
            $"delivery after the exchange ended: median {sorted[sorted.Length / 2]:F0} ms, p99 {sorted[(int)(sorted.Length * 0.99)]:F0} ms, max {sorted[^1]:F0} ms";
    }

    /// <summary>
    /// Starts a shell that is given process id <paramref name="pid"/> (through ns_last_pid; retried
    /// when another process took it first) and, once it reads "go", sends GET /hello/reused-pid
    /// with bash's /dev/tcp and prints the response.
    /// </summary>
    private static Process StartShellWithPid(int pid, int port)
    {
        const string script = """
            read -r go; [ "$go" = go ] || exit 0
            exec 3<>/dev/tcp/127.0.0.1/$1
            printf 'GET /hello/reused-pid HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' >&3
            while IFS= read -r line <&3; do printf '%s\n' "$line"; done
            """;
        for (int attempt = 0; attempt < 50; attempt++)
        {
            var info = new ProcessStartInfo("bash") { RedirectStandardInput = true, RedirectStandardOutput = true, UseShellExecute = false };
            foreach (string a in new[] { "-c", script, "reused", port.ToString(CultureInfo.InvariantCulture) })
                info.ArgumentList.Add(a);
            File.WriteAllText("/proc/sys/kernel/ns_last_pid", (pid - 1).ToString(CultureInfo.InvariantCulture));
            Process shell = Process.Start(info)!;
            if (shell.Id == pid)
                return shell;
            shell.StandardInput.Close(); // no "go": it exits without a request
            shell.WaitForExit();
            shell.Dispose();
        }
        throw new InvalidOperationException($"pid {pid} could not be reused in 50 attempts");
    }

    /// <summary>
    /// What is left of processes that have exited: in the kernel's traced set, its connections,
    /// sockets, queued requests and SSL maps, and in the probe set's traced and TLS-probed processes.
    /// A process of <paramref name="ours"/> counts even if its id has been reused since.
    /// </summary>
    private static List<string> Leftovers(SocketProbeSet probes, HashSet<int> ours)
    {
        bool Gone(int pid) => ours.Contains(pid) || !Directory.Exists($"/proc/{pid}");
        var found = new List<string>();
        void Check(string where, IEnumerable<int> pids) => found.AddRange(pids.Where(Gone).Distinct().Select(p => $"{where}: {p}"));
        Check("traced_pids", KernelObjects.OwnMapKeyWords("traced_pids"));
        Check("traced_pid_bits", probes.TracedPidBits);
        Check("connections", KernelObjects.OwnMapKeyWords("connections"));
        Check("queued_requests", KernelObjects.OwnMapKeyWords("queued_requests"));
        Check("socket_ssl", KernelObjects.OwnMapKeyWords("socket_ssl"));
        Check("socket_conns", KernelObjects.OwnMapValueWords("socket_conns"));
        Check("ssl_fds", KernelObjects.OwnMapKeyWords("ssl_fds", offset: 8));
        Check("ssl_mem_wbio", KernelObjects.OwnMapKeyWords("ssl_mem_wbio", offset: 8));
        Check("tls_ciphertexts", KernelObjects.OwnMapKeyWords("tls_ciphertexts"));
        Check("tls_pending_process", KernelObjects.OwnMapKeyWords("tls_pending_process"));
        Check("tls_calls", KernelObjects.OwnMapKeyWords("tls_calls", offset: 4)); // keys are pid_tgid: the tgid is the upper half
        Check("tls_pending", KernelObjects.OwnMapKeyWords("tls_pending", offset: 4));
        Check("managed traced set", probes.TracedProcessIds);
        Check("managed TLS probes", probes.TlsProbedProcessIds);
        return found;
    }

    /// <summary>Waits until <paramref name="count"/> spans arrived (or <paramref name="timeout"/>), then 500 ms more to catch extras.</summary>
    private static async Task<List<HttpSpan>> WaitForCountAsync(SpanCollector collector, int count, TimeSpan timeout)
    {
        var deadline = Stopwatch.StartNew();
        while (collector.Spans.Count < count && deadline.Elapsed < timeout)
            await Task.Delay(100);
        await Task.Delay(500);
        return [.. collector.Spans];
    }

    private static byte[] ReadToEnd(Socket socket)
    {
        using var all = new MemoryStream();
        byte[] buffer = new byte[4096];
        int n;
        while ((n = socket.Receive(buffer)) > 0)
            all.Write(buffer, 0, n);
        return all.ToArray();
    }
}
