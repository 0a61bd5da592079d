using System.Diagnostics;
using System.Text.Json;

namespace Beyla.Bpf.Tests;

/// <summary>What bpftool sees loaded in the kernel.</summary>
internal static class KernelObjects
{
    public static HashSet<int> ProgramIds() => Ids("prog");

    public static HashSet<int> MapIds() => Ids("map");

    /// <summary>Run count and run time (ns) of every loaded program, by id (needs kernel.bpf_stats_enabled=1 for non-zero times).</summary>
    public static Dictionary<int, (string Name, long RunCount, long RunTimeNs)> ProgramStats()
    {
        using JsonDocument doc = JsonDocument.Parse(Bpftool("prog", "show", "--json"));
        var stats = new Dictionary<int, (string, long, long)>();
        foreach (JsonElement p in doc.RootElement.EnumerateArray())
        {
            stats[p.GetProperty("id").GetInt32()] = (
                p.TryGetProperty("name", out JsonElement n) ? n.GetString() ?? "" : "",
                p.TryGetProperty("run_cnt", out JsonElement c) ? c.GetInt64() : 0,
                p.TryGetProperty("run_time_ns", out JsonElement t) ? t.GetInt64() : 0);
        }
        return stats;
    }

    private static HashSet<int> Ids(string kind)
    {
        using JsonDocument doc = JsonDocument.Parse(Bpftool(kind, "show", "--json"));
        return doc.RootElement.EnumerateArray().Select(e => e.GetProperty("id").GetInt32()).ToHashSet();
    }

    private static string Bpftool(params string[] args)
    {
        var info = new ProcessStartInfo("bpftool") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in args)
            info.ArgumentList.Add(a);
        using Process p = Process.Start(info)!;
        string output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return string.IsNullOrWhiteSpace(output) ? "[]" : output;
    }
}
