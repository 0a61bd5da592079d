namespace Beyla.Bpf.Tests;

/// <summary>A theory that needs to load BPF programs; skipped or failed like <see cref="BpfFactAttribute"/>.</summary>
public sealed class BpfTheoryAttribute : TheoryAttribute
{
    public BpfTheoryAttribute()
    {
        if (!TestEnvironment.BpfRequired && !TestEnvironment.IsRoot)
            Skip = "needs root to load BPF programs (set BEYLA_REQUIRE_BPF=1 to fail instead)";
    }
}
