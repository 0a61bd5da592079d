using System.Globalization;

namespace Beyla.Agent;

/// <summary>The agent's command line.</summary>
internal sealed class AgentOptions
{
    public List<int> Pids { get; } = [];
    public List<int> Ports { get; } = [];
    public List<string> Executables { get; } = [];
    public bool Json { get; private set; }
    public bool Demo { get; private set; }
    public bool Verbose { get; private set; }
    public TimeSpan? Duration { get; private set; }

    public bool HasSelection => Pids.Count > 0 || Ports.Count > 0 || Executables.Count > 0;

    public const string Usage = """
        usage: beyla-agent [--pid N] [--port N] [--exe NAME] [--json] [--duration SECONDS] [--demo] [--verbose]
          --pid N          trace process N (repeatable)
          --port N         trace processes listening on TCP port N (repeatable)
          --exe NAME       trace processes whose executable is NAME (repeatable)
                           with none of these, every process is traced
          --json           one JSON object per span per line on stdout
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
                case "--json":
                    o.Json = true;
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

    private static int ParseInt(string option, string value, int min, int max)
    {
        if (!int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out int n) || n < min || n > max)
            throw new ArgumentException($"{option} needs a number from {min} to {max}, not '{value}'");
        return n;
    }
}
