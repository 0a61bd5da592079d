using System.Globalization;

namespace Beyla.Agent;

/// <summary>The agent's command line.</summary>
internal sealed class AgentOptions
{
    public List<int> Pids { get; } = [];
    public List<int> Ports { get; } = [];
    public List<string> Executables { get; } = [];
    public List<string> Routes { get; } = [];
    public bool Json { get; private set; }
    public bool Demo { get; private set; }
    public bool Verbose { get; private set; }
    public bool Quiet { get; private set; }
    public bool Live { get; private set; }
    public TimeSpan? Duration { get; private set; }

    /// <summary>The OTLP/HTTP base URL; traces go to URL/v1/traces and metrics to URL/v1/metrics.</summary>
    public Uri? Otlp { get; private set; }

    /// <summary>Where to serve Prometheus metrics, when set.</summary>
    public (string Host, int Port)? Prometheus { get; private set; }

    public bool HasSelection => Pids.Count > 0 || Ports.Count > 0 || Executables.Count > 0;

    public const string Usage = """
        usage: beyla-agent [--pid N] [--port N] [--exe NAME] [--route PATTERN] [--json] [--quiet] [--live]
                           [--otlp URL] [--prometheus HOST:PORT] [--duration SECONDS] [--demo] [--verbose]
          --pid N          trace process N (repeatable)
          --port N         trace processes listening on TCP port N (repeatable)
          --exe NAME       trace processes whose executable is NAME (repeatable)
                           with none of these, every process is traced
          --route PATTERN  a route such as /users/{id} or /static/** (repeatable, tried in order)
          --json           one JSON object per span per line on stdout
          --quiet          no per-span output: only the ready and summary lines, and the exporters
          --live           a table of rate, errors, p50 and p99 per route, redrawn every second
                           (the default on a terminal; piped, each span is one line)
          --otlp URL       export traces and metrics with OTLP over HTTP (protobuf) to
                           URL/v1/traces and URL/v1/metrics, e.g. http://127.0.0.1:4318
          --prometheus HOST:PORT
                           serve Prometheus metrics at http://HOST:PORT/metrics, e.g. 127.0.0.1:9400
          --duration S     stop after S seconds
          --demo           run the built-in demo (the default when no option is given)
          --verbose        debug logging on stderr
        """;

    public static AgentOptions Parse(string[] args)
    {
        var o = new AgentOptions { Demo = args.Length == 0 };
        for (int i = 0; i < args.Length; i++)
        {
            string arg = args[i];
            switch (arg)
            {
                case "--pid":
                    o.Pids.Add(ParseInt(arg, Next(args, ref i), 1, int.MaxValue));
                    break;
                case "--port":
                    o.Ports.Add(ParseInt(arg, Next(args, ref i), 1, 65535));
                    break;
                case "--exe":
                    o.Executables.Add(Next(args, ref i));
                    break;
                case "--route":
                    string route = Next(args, ref i);
                    if (!route.StartsWith('/'))
                        throw new ArgumentException($"--route needs a pattern starting with '/', not '{route}'");
                    o.Routes.Add(route);
                    break;
                case "--json":
                    o.Json = true;
                    break;
                case "--live":
                    o.Live = true;
                    break;
                case "--quiet":
                    o.Quiet = true;
                    break;
                case "--otlp":
                    string url = Next(args, ref i);
                    if (!Uri.TryCreate(url, UriKind.Absolute, out Uri? otlp) || otlp.Scheme is not ("http" or "https")
                        || !string.IsNullOrEmpty(otlp.Query) || !string.IsNullOrEmpty(otlp.Fragment))
                        throw new ArgumentException($"--otlp needs an http:// or https:// URL such as http://127.0.0.1:4318, not '{url}'");
                    o.Otlp = otlp;
                    break;
                case "--prometheus":
                    o.Prometheus = ParseHostPort(arg, Next(args, ref i));
                    break;
                case "--demo":
                    o.Demo = true;
                    break;
                case "--verbose":
                    o.Verbose = true;
                    break;
                case "--duration":
                    string value = Next(args, ref i);
                    if (!double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out double seconds) || seconds <= 0)
                        throw new ArgumentException($"--duration needs a positive number of seconds, not '{value}'");
                    o.Duration = TimeSpan.FromSeconds(seconds);
                    break;
                case "-h" or "--help":
                    throw new ArgumentException(Usage);
                default:
                    throw new ArgumentException($"unknown option '{arg}'");
            }
        }
        return o;
    }

    private static string Next(string[] args, ref int i)
    {
        if (i + 1 >= args.Length)
            throw new ArgumentException($"{args[i]} needs a value");
        return args[++i];
    }

    /// <summary>HOST:PORT, with an IPv6 host in brackets ([::1]:9400).</summary>
    private static (string Host, int Port) ParseHostPort(string option, string value)
    {
        int colon = value.LastIndexOf(':');
        string host = colon > 0 ? value[..colon] : "";
        if (host.Length == 0 || (host.Contains(':') && !(host.StartsWith('[') && host.EndsWith(']'))))
            throw new ArgumentException($"{option} needs HOST:PORT such as 127.0.0.1:9400, not '{value}'");
        return (host, ParseInt(option, value[(colon + 1)..], 1, 65535));
    }

    private static int ParseInt(string option, string value, int min, int max)
    {
        if (!int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out int n) || n < min || n > max)
            throw new ArgumentException($"{option} needs a number from {min} to {max}, not '{value}'");
        return n;
    }
}
