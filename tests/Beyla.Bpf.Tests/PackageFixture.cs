using System.Diagnostics;
using System.Globalization;

namespace Beyla.Bpf.Tests;

/// <summary>
/// Packs the library from a copy of the sources (so the running tests' own binaries are never
/// rebuilt under them) with a version unique to this run, then makes a brand-new console
/// project in a temporary folder that gets the package as a user would:
/// <c>dotnet add package Beyla</c> from a local feed, and builds it.
/// </summary>
public sealed class PackageFixture : IDisposable
{
    public PackageFixture()
    {
        Root = Directory.CreateTempSubdirectory("beyla-package-").FullName;
        Version = "0.1.0-test" + DateTime.UtcNow.ToString("yyyyMMddHHmmss", CultureInfo.InvariantCulture);
        string sources = Path.Combine(Root, "repo");
        Feed = Path.Combine(Root, "feed");
        CopyDirectory(Path.Combine(TestEnvironment.RepoRoot, "src"), Path.Combine(sources, "src"));
        foreach (string file in new[] { "Directory.Build.props", "Directory.Packages.props", "nuget.config", "README.md", "LICENSE" })
            File.Copy(Path.Combine(TestEnvironment.RepoRoot, file), Path.Combine(sources, file));
        foreach (string project in new[] { "Beyla.Core", "Beyla.Bpf", "Beyla.Exporters", "Beyla.Hosting", "Beyla" })
            PackLog += Run("dotnet", sources, "pack", $"src/{project}/{project}.csproj", "-c", "Release", "-o", Feed, $"-p:Version={Version}");
        Packages = Directory.GetFiles(Feed).Select(Path.GetFileName).ToArray()!;

        App = Path.Combine(Root, "app");
        Directory.CreateDirectory(App);
        File.WriteAllText(Path.Combine(App, "nuget.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <clear />
                <add key="local" value="{Feed}" />
                <add key="nuget.org" value="https://api.nuget.org/v3/index.json" />
              </packageSources>
            </configuration>
            """);
        Run("dotnet", App, "new", "console", "--framework", "net10.0", "--name", "UserApp", "--output", ".");
        AddPackageLog = Run("dotnet", App, "add", "package", "Beyla", "--version", Version);
        File.WriteAllText(Path.Combine(App, "Program.cs"), UserProgram);
        Run("dotnet", App, "build", "-c", "Release");
        AppDll = Path.Combine(App, "bin", "Release", "net10.0", "UserApp.dll");
    }

    public string Root { get; }

    public string Version { get; }

    public string Feed { get; }

    public string[] Packages { get; }

    public string PackLog { get; } = "";

    public string AddPackageLog { get; }

    public string App { get; }

    public string AppDll { get; }

    /// <summary>What a user writes: a fake source in one mode, the kernel probes on a port in the other.</summary>
    private const string UserProgram = """
        using Beyla;
        using Beyla.Exporters;

        if (args.Length > 0 && args[0] == "fake")
        {
            var source = new FakeEventSource();
            var sink = new PrometheusExporter(new PrometheusExporterOptions { ServeHttp = false });
            await using var tracer = new BeylaBuilder().WithEventSource(source).AddSink(sink).Build();
            for (int i = 0; i < 5; i++)
                source.Add(new HttpSpan { Method = "GET", Path = $"/users/{i}", StatusCode = 200, DurationNanoseconds = 2_000_000 });
            source.Complete();
            await tracer.Completion;
            Console.WriteLine($"spans={tracer.Statistics.SpansDecoded}");
            Console.WriteLine(sink.WriteMetrics().Split('\n').First(l => l.StartsWith("http_server_request_duration_seconds_count")));
            return 0;
        }

        int port = int.Parse(args[1]);
        int expected = int.Parse(args[2]);
        await using var real = new BeylaBuilder().TraceProcesses(p => p.ListeningOn(port)).WithHttpProbes().Build();
        var spans = real.Spans();
        using (var client = new HttpClient())
        {
            for (int i = 0; i < expected; i++)
                Console.WriteLine($"sent {(int)(await client.GetAsync($"http://127.0.0.1:{port}/hello/{i}")).StatusCode}");
        }
        int seen = 0;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            await foreach (HttpSpan span in spans.WithCancellation(timeout.Token))
            {
                Console.WriteLine($"{span.Method} {span.Path} {span.StatusCode}");
                if (++seen == expected)
                    break;
            }
        }
        catch (OperationCanceledException)
        {
        }
        Console.WriteLine($"spans={seen} {real.Statistics}");
        return 0;
        """;

    internal static string Run(string fileName, string directory, params string[] args)
    {
        var info = new ProcessStartInfo(fileName) { WorkingDirectory = directory, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in args)
            info.ArgumentList.Add(a);
        info.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        info.Environment["DOTNET_NOLOGO"] = "1";
        using Process process = Process.Start(info)!;
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(5)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{fileName} {string.Join(' ', args)} did not finish in 5 minutes");
        }
        string output = stdout.Result + stderr.Result;
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"{fileName} {string.Join(' ', args)} exited with {process.ExitCode}:\n{output}");
        return output;
    }

    private static void CopyDirectory(string from, string to)
    {
        foreach (string dir in Directory.GetDirectories(from, "*", SearchOption.AllDirectories))
        {
            string relative = Path.GetRelativePath(from, dir);
            if (relative.Split('/').Any(p => p is "bin" or "obj"))
                continue;
            Directory.CreateDirectory(Path.Combine(to, relative));
        }
        Directory.CreateDirectory(to);
        foreach (string file in Directory.GetFiles(from, "*", SearchOption.AllDirectories))
        {
            string relative = Path.GetRelativePath(from, file);
            if (relative.Split('/').Any(p => p is "bin" or "obj"))
                continue;
            File.Copy(file, Path.Combine(to, relative));
        }
    }

    public void Dispose()
    {
        if (Environment.GetEnvironmentVariable("BEYLA_KEEP_PACKAGE_TEST") == "1")
            return;
        try
        {
            Directory.Delete(Root, recursive: true);
            // The packages of this run only: they have a version no other run uses.
            string cache = Environment.GetEnvironmentVariable("NUGET_PACKAGES")
                ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
            foreach (string id in new[] { "beyla", "beyla.core", "beyla.bpf", "beyla.exporters", "beyla.hosting" })
            {
                string dir = Path.Combine(cache, id, Version);
                if (Directory.Exists(dir))
                    Directory.Delete(dir, recursive: true);
            }
        }
        catch (IOException)
        {
        }
    }
}
