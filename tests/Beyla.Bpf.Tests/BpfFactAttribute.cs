namespace Beyla.Bpf.Tests;

/// <summary>
/// A test that needs to load BPF programs. Skipped when this process cannot (not root), unless
/// BEYLA_REQUIRE_BPF=1, in which case it runs and fails, so that CI never passes by skipping.
/// </summary>
public sealed class BpfFactAttribute : FactAttribute
{
    public BpfFactAttribute()
    {
        if (!TestEnvironment.BpfRequired && !TestEnvironment.IsRoot)
            Skip = "needs root to load BPF programs (set BEYLA_REQUIRE_BPF=1 to fail instead)";
    }
}
