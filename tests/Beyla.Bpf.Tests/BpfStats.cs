namespace Beyla.Bpf.Tests;

/// <summary>kernel.bpf_stats_enabled: programs' run counts and times are kept only while it is 1.</summary>
internal static class BpfStats
{
    private const string Path = "/proc/sys/kernel/bpf_stats_enabled";

    /// <summary>Turns the statistics on until disposed, then back to what they were.</summary>
    public static IDisposable Enable()
    {
        string was = File.ReadAllText(Path).Trim();
        File.WriteAllText(Path, "1");
        return new Restore(was);
    }

    private sealed class Restore(string was) : IDisposable
    {
        public void Dispose() => File.WriteAllText(Path, was);
    }
}
