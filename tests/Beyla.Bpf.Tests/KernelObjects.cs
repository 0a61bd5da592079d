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

    /// <summary>
    /// Ids of the maps called <paramref name="name"/> that this process holds open: the maps of
    /// the tracers built in this test host, and not those of other tracers on the machine.
    /// </summary>
    public static HashSet<int> OwnMapIds(string name)
    {
        var own = new HashSet<int>();
        foreach (string fdinfo in Directory.EnumerateFiles("/proc/self/fdinfo"))
        {
            try
            {
                foreach (string line in File.ReadLines(fdinfo))
                {
                    if (line.StartsWith("map_id:", StringComparison.Ordinal))
                        own.Add(int.Parse(line.AsSpan(7).Trim(), System.Globalization.CultureInfo.InvariantCulture));
                }
            }
            catch (IOException)
            {
                // closed while we looked
            }
        }
        using JsonDocument doc = JsonDocument.Parse(Bpftool("map", "show", "--json"));
        return doc.RootElement.EnumerateArray()
            .Where(m => m.TryGetProperty("name", out JsonElement n) && n.GetString() == name)
            .Select(m => m.GetProperty("id").GetInt32())
            .Where(own.Contains)
            .ToHashSet();
    }

    /// <summary>
    /// The 32-bit number at byte <paramref name="offset"/> of the key of every entry of this
    /// process's maps called <paramref name="name"/> (the tgid, for the tracer's per-process and
    /// per-connection maps).
    /// </summary>
    public static List<int> OwnMapKeyWords(string name, int offset = 0) => OwnMapWords(name, "key", offset);

    /// <summary>The same from the value of every entry (socket_conns: the tgid of the socket's tracker).</summary>
    public static List<int> OwnMapValueWords(string name, int offset = 0) => OwnMapWords(name, "value", offset);

    private static List<int> OwnMapWords(string name, string part, int offset)
    {
        var words = new List<int>();
        foreach (int id in OwnMapIds(name))
        {
            using JsonDocument doc = JsonDocument.Parse(Bpftool("map", "dump", "id", id.ToString(System.Globalization.CultureInfo.InvariantCulture), "--json"));
            foreach (JsonElement entry in doc.RootElement.EnumerateArray())
            {
                byte[] bytes = entry.GetProperty(part).EnumerateArray().Select(b => Convert.ToByte(b.GetString(), 16)).ToArray();
                words.Add(BitConverter.ToInt32(bytes, offset));
            }
        }
        return words;
    }

    /// <summary>perf events this process holds open (a perf-event uprobe is one; so is a regular tracepoint's attachment).</summary>
    public static int OwnPerfEventFds() => OwnFds("anon_inode:[perf_event]");

    /// <summary>
    /// Attachments this process holds open: perf events and BPF links (a uprobe is one or the
    /// other, whichever way the tracer attaches it).
    /// </summary>
    public static int OwnAttachmentFds() => OwnPerfEventFds() + OwnFds("anon_inode:bpf_link");

    private static int OwnFds(string target) =>
        Directory.EnumerateFileSystemEntries("/proc/self/fd").Count(fd =>
        {
            try
            {
                return new FileInfo(fd).LinkTarget == target;
            }
            catch (IOException)
            {
                return false;
            }
        });

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
