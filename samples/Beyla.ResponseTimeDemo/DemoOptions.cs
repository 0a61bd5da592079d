using System.Globalization;

namespace Beyla.ResponseTimeDemo;

/// <summary>The demo's command line.</summary>
internal sealed class DemoOptions
{
    public int Port { get; private set; }
    public int Clients { get; private set; } = 16;
    public int RequestsPerClient { get; private set; } = 50;
    public int WorkMilliseconds { get; private set; } = 5;
    public int Concurrency { get; private set; } = 2;
    public bool Json { get; private set; }

    public static DemoOptions Parse(string[] args)
    {
        var o = new DemoOptions();
        for (int i = 0; i < args.Length; i++)
        {
            string value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            int number() => int.Parse(value(), NumberStyles.None, CultureInfo.InvariantCulture);
            switch (args[i])
            {
                case "--port": o.Port = number(); break;
                case "--clients": o.Clients = Math.Max(1, number()); break;
                case "--requests": o.RequestsPerClient = Math.Max(1, number()); break;
                case "--work-ms": o.WorkMilliseconds = number(); break;
                case "--concurrency": o.Concurrency = Math.Max(1, number()); break;
                case "--json": o.Json = true; break;
                default:
                    throw new ArgumentException("usage: beyla-response-time-demo [--port N] [--clients N] [--requests N per client] [--work-ms N] [--concurrency N] [--json]");
            }
        }
        return o;
    }
}
