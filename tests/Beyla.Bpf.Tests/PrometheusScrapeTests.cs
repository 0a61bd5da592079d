using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using Beyla.Exporters;
using Beyla.Tests.Support;

namespace Beyla.Bpf.Tests;

/// <summary>
/// The Prometheus exporter end to end: a real Python server traced from the kernel, its spans
/// aggregated by the exporter, scraped every second by a real Prometheus server, and counted
/// with PromQL: the counts Prometheus stores are exactly the requests sent.
/// </summary>
public sealed class PrometheusScrapeTests
{
    private const string Service = "scrape-target";
    private static readonly TimeSpan QueryDeadline = TimeSpan.FromSeconds(30);

    [BpfFact]
    public async Task PrometheusCountsExactlyTheRequestsSentToATracedServer()
    {
        const int requests = 50;
        var clock = Stopwatch.StartNew();
        int serverPort = FreePort.Next();
        int exporterPort = FreePort.Next();
        using ServerProcess server = ServerProcess.Start("python3",
            [Path.Combine(TestEnvironment.ServersDirectory, "python_server.py"), serverPort.ToString(CultureInfo.InvariantCulture)], serverPort);
        await using BeylaTracer tracer = new BeylaBuilder()
            .TraceProcesses(p => p.ProcessId(server.Pid))
            .WithHttpProbes()
            .Configure(o =>
            {
                o.ServiceNameResolver = pid => pid == server.Pid ? Service : null;
                o.RoutePatterns.Add("/hello/{id}");
            })
            .AddPrometheus(o => o.Port = exporterPort)
            .Build();
        TimeSpan traced = clock.Elapsed;
        await using PrometheusServer prometheus = await PrometheusServer.StartAsync(exporterPort);
        TimeSpan prometheusReady = clock.Elapsed;
        // The target is up (Prometheus has scraped and parsed the exposition) before any request.
        await prometheus.WaitForValueAsync("up{job=\"beyla\"}", 1);
        TimeSpan up = clock.Elapsed;

        // Every fifth request goes to a path the server answers 404.
        int expected404 = 0;
        using (var client = new KeepAliveClient(serverPort))
        {
            for (int i = 0; i < requests; i++)
            {
                bool missing = i % 5 == 4;
                ClientExchange exchange = client.Get(missing ? $"/missing/{i}" : $"/hello/{i}");
                Assert.Equal(missing ? 404 : 200, exchange.Status);
                expected404 += missing ? 1 : 0;
            }
        }
        var sinceLastRequest = Stopwatch.StartNew();

        string all = $"sum(http_server_request_duration_seconds_count{{service_name=\"{Service}\"}})";
        double? total = await prometheus.WaitForValueAsync(all, requests);
        TimeSpan untilCounted = sinceLastRequest.Elapsed;
        Assert.True(total == requests, $"{all} = {total?.ToString(CultureInfo.InvariantCulture) ?? "no data"} after {QueryDeadline}, {requests} requests sent");

        string notFound = $"sum(http_server_request_duration_seconds_count{{service_name=\"{Service}\",http_response_status_code=\"404\"}})";
        Assert.Equal(expected404, await prometheus.QueryAsync(notFound));
        string ok = $"sum(http_server_request_duration_seconds_count{{service_name=\"{Service}\",http_response_status_code=\"200\",http_route=\"/hello/{{id}}\",http_request_method=\"GET\"}})";
        Assert.Equal(requests - expected404, await prometheus.QueryAsync(ok));
        // The histogram's +Inf bucket agrees, and so do the size histograms and the tracer's own counter.
        Assert.Equal(requests, await prometheus.QueryAsync($"sum(http_server_request_duration_seconds_bucket{{service_name=\"{Service}\",le=\"+Inf\"}})"));
        Assert.Equal(requests, await prometheus.QueryAsync($"sum(http_server_response_body_size_bytes_count{{service_name=\"{Service}\"}})"));
        Assert.Equal(requests, await prometheus.QueryAsync("sum(beyla_spans_decoded_total)"));
        Assert.Equal(0, await prometheus.QueryAsync("sum(beyla_events_lost_total) + sum(beyla_malformed_records_total)"));
        // Response times: every request was answered by a local server in well under 10 s, and took some time.
        Assert.Equal(requests, await prometheus.QueryAsync($"sum(http_server_request_duration_seconds_bucket{{service_name=\"{Service}\",le=\"10\"}})"));
        Assert.True(await prometheus.QueryAsync($"sum(http_server_request_duration_seconds_sum{{service_name=\"{Service}\"}})") > 0);
        Assert.Equal(0, await prometheus.QueryAsync($"count(http_server_request_duration_seconds_count{{url_path!=\"\"}}) or vector(0)"));
        // Prometheus asked for OpenMetrics and parsed it: its metadata has the # UNIT lines and the counter families without _total.
        string durationMetadata = await prometheus.GetAsync("api/v1/targets/metadata?metric=http_server_request_duration_seconds");
        Assert.Contains("\"type\":\"histogram\"", durationMetadata, StringComparison.Ordinal);
        Assert.Contains("\"unit\":\"seconds\"", durationMetadata, StringComparison.Ordinal);
        string counterMetadata = await prometheus.GetAsync("api/v1/targets/metadata?metric=beyla_spans_decoded");
        Assert.Contains("\"type\":\"counter\"", counterMetadata, StringComparison.Ordinal);

        // The live endpoint's exposition passes promtool.
        using var http = new HttpClient(new SocketsHttpHandler { UseProxy = false }) { Timeout = TimeSpan.FromSeconds(10) };
        using HttpResponseMessage scrape = await http.GetAsync(new Uri($"http://127.0.0.1:{exporterPort}/metrics"));
        Assert.Equal(HttpStatusCode.OK, scrape.StatusCode);
        string text = await scrape.Content.ReadAsStringAsync();
        Assert.Contains("http_server_request_duration_seconds_count{", text, StringComparison.Ordinal);
        (int exit, string output) = Promtool.Run(text, "check", "metrics");
        Assert.True(exit == 0, $"promtool check metrics on the live endpoint exited {exit}:\n{output}");

        Console.WriteLine($"PrometheusScrapeTests: {requests} requests ({expected404} 404), PromQL sum = {total}, counted {untilCounted.TotalMilliseconds:F0} ms after the last request; "
            + $"server+tracer {traced.TotalSeconds:F1} s, prometheus ready {(prometheusReady - traced).TotalSeconds:F1} s, target up {(up - prometheusReady).TotalSeconds:F1} s, total {clock.Elapsed.TotalSeconds:F1} s");
    }

    /// <summary>
    /// A Prometheus server of our own: a temporary directory with its configuration (one job,
    /// <c>beyla</c>, scraping the exporter every second) and its TSDB, listening on loopback.
    /// Disposing ends it by pid and removes the directory.
    /// </summary>
    private sealed class PrometheusServer : IAsyncDisposable
    {
        private const string Executable = "/usr/bin/prometheus";
        private readonly Process _process;
        private readonly string _directory;
        private readonly HttpClient _http = new(new SocketsHttpHandler { UseProxy = false }) { Timeout = TimeSpan.FromSeconds(5) };
        private readonly StringBuilder _log = new();

        private PrometheusServer(Process process, string directory, int port)
        {
            _process = process;
            _directory = directory;
            BaseAddress = new Uri($"http://127.0.0.1:{port}/");
        }

        public Uri BaseAddress { get; }

        public static async Task<PrometheusServer> StartAsync(int targetPort)
        {
            Assert.True(File.Exists(Executable), $"{Executable} is missing: run scripts/setup.sh (the prometheus package)");
            string directory = Directory.CreateTempSubdirectory("beyla-prometheus-").FullName;
            string config = Path.Combine(directory, "prometheus.yml");
            File.WriteAllText(config, $"""
                global:
                  scrape_interval: 1s
                  scrape_timeout: 1s
                scrape_configs:
                  - job_name: beyla
                    static_configs:
                      - targets: ['127.0.0.1:{targetPort}']
                """);
            int port = FreePort.Next();
            var info = new ProcessStartInfo(Executable)
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
                WorkingDirectory = directory,
            };
            foreach (string a in new[]
            {
                $"--config.file={config}", $"--storage.tsdb.path={Path.Combine(directory, "data")}",
                $"--web.listen-address=127.0.0.1:{port}", "--log.level=warn",
            })
            {
                info.ArgumentList.Add(a);
            }
            Process process = Process.Start(info) ?? throw new InvalidOperationException("could not start prometheus");
            var server = new PrometheusServer(process, directory, port);
            process.OutputDataReceived += (_, e) => server.Log(e.Data);
            process.ErrorDataReceived += (_, e) => server.Log(e.Data);
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            try
            {
                await server.WaitUntilReadyAsync();
            }
            catch
            {
                await server.DisposeAsync();
                throw;
            }
            return server;
        }

        private void Log(string? line)
        {
            if (line is null)
                return;
            lock (_log)
                _log.AppendLine(line);
        }

        private string Output()
        {
            lock (_log)
                return _log.ToString();
        }

        private async Task WaitUntilReadyAsync()
        {
            var clock = Stopwatch.StartNew();
            while (clock.Elapsed < TimeSpan.FromSeconds(30))
            {
                if (_process.HasExited)
                    throw new InvalidOperationException($"prometheus exited with {_process.ExitCode}:\n{Output()}");
                try
                {
                    using HttpResponseMessage ready = await _http.GetAsync(new Uri(BaseAddress, "-/ready"));
                    if (ready.IsSuccessStatusCode)
                        return;
                }
                catch (HttpRequestException)
                {
                }
                catch (TaskCanceledException)
                {
                }
                await Task.Delay(100);
            }
            throw new TimeoutException($"prometheus was not ready within 30 s:\n{Output()}");
        }

        /// <summary>GETs a path of the HTTP API, as text.</summary>
        public Task<string> GetAsync(string pathAndQuery) => _http.GetStringAsync(new Uri(BaseAddress, pathAndQuery));

        /// <summary>The value of an instant query returning one sample, or null when it returns none.</summary>
        public async Task<double?> QueryAsync(string promQl)
        {
            var uri = new Uri(BaseAddress, "api/v1/query?query=" + Uri.EscapeDataString(promQl));
            string json = await _http.GetStringAsync(uri);
            using JsonDocument doc = JsonDocument.Parse(json);
            JsonElement root = doc.RootElement;
            Assert.Equal("success", root.GetProperty("status").GetString());
            JsonElement result = root.GetProperty("data").GetProperty("result");
            if (result.GetArrayLength() == 0)
                return null;
            Assert.True(result.GetArrayLength() == 1, $"{promQl} returned {result.GetArrayLength()} series: {json}");
            return double.Parse(result[0].GetProperty("value")[1].GetString()!, NumberStyles.Float, CultureInfo.InvariantCulture);
        }

        /// <summary>Polls <paramref name="promQl"/> until it equals <paramref name="expected"/> or the deadline passes; returns the last value.</summary>
        public async Task<double?> WaitForValueAsync(string promQl, double expected)
        {
            var clock = Stopwatch.StartNew();
            double? value = null;
            while (clock.Elapsed < QueryDeadline)
            {
                if (_process.HasExited)
                    throw new InvalidOperationException($"prometheus exited with {_process.ExitCode}:\n{Output()}");
                value = await QueryAsync(promQl);
                if (value == expected)
                    return value;
                await Task.Delay(250);
            }
            Assert.Fail($"{promQl} = {value?.ToString(CultureInfo.InvariantCulture) ?? "no data"} after {QueryDeadline}, expected {expected}; "
                + $"targets: {await TargetsAsync()}\nprometheus output:\n{Output()}");
            return value;
        }

        private async Task<string> TargetsAsync()
        {
            try
            {
                return await _http.GetStringAsync(new Uri(BaseAddress, "api/v1/targets"));
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
            {
                return ex.Message;
            }
        }

        public async ValueTask DisposeAsync()
        {
            _http.Dispose();
            try
            {
                if (!_process.HasExited)
                {
                    _process.Kill(); // this pid only: prometheus starts no children
                    using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                    await _process.WaitForExitAsync(timeout.Token);
                }
            }
            catch (InvalidOperationException)
            {
            }
            _process.Dispose();
            try
            {
                Directory.Delete(_directory, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }
}
