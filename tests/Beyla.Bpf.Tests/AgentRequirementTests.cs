using Beyla.Interop;

namespace Beyla.Bpf.Tests;

/// <summary>
/// The sample agent on a machine that lacks kernel BTF, libbpf or tracefs: exit code 2 and one
/// line saying what is missing and what to do. BTF and tracefs are taken away for the agent
/// alone, in a private mount namespace; libbpf through BEYLA_LIBBPF.
/// </summary>
public sealed class AgentRequirementTests
{
    private const string LibBpfAdvice = ": Beyla needs libbpf 1.0 or newer; install it (Debian/Ubuntu: apt-get install -y libbpf1) or set BEYLA_LIBBPF to its path.";

    [BpfFact]
    public async Task WithoutKernelBtfItExitsWithOneLineNamingTheKernelOption()
    {
        // An empty tmpfs over /sys/kernel/btf, seen by the agent only: a kernel built without BTF.
        string[] noBtf = ["unshare", "--mount", "--propagation", "private", "sh", "-c", "mount -t tmpfs tmpfs /sys/kernel/btf && exec \"$@\"", "sh"];
        using var agent = new AgentProcess(noBtf, "--port", "8080", "--duration", "5");
        (int exitCode, List<string> stdout, List<string> stderr) = await agent.WaitForExitAsync();

        Assert.Equal(2, exitCode);
        Assert.Empty(stdout);
        Assert.Equal(
            "beyla-agent: cannot trace: The kernel exposes no BTF (/sys/kernel/btf/vmlinux is missing): the probes need a kernel built with CONFIG_DEBUG_INFO_BTF=y, as most distribution kernels are; boot such a kernel.",
            Assert.Single(stderr));
        Assert.True(File.Exists("/sys/kernel/btf/vmlinux"), "the test's namespace leaked: the machine's BTF is gone");
    }

    [BpfFact]
    public async Task WithoutTracefsAndWithoutCapSysAdminItExitsWithOneLineSayingHowToMountIt()
    {
        bool mountedBefore = Directory.Exists("/sys/kernel/tracing/events");
        // tracefs (and debugfs, whose tracing directory would mount it on access) unmounted for the
        // agent alone, which runs as root with CAP_BPF and CAP_PERFMON but without CAP_SYS_ADMIN.
        string[] noTracefs =
        [
            "unshare", "--mount", "--propagation", "private", "sh", "-c",
            "for m in /sys/kernel/debug /sys/kernel/tracing; do while mountpoint -q $m; do umount -l $m || exit 99; done; done; exec \"$@\"", "sh",
            "setpriv", "--bounding-set=-sys_admin", "--inh-caps=-all",
        ];
        using var agent = new AgentProcess(noTracefs, "--port", "8080", "--duration", "5");
        (int exitCode, List<string> stdout, List<string> stderr) = await agent.WaitForExitAsync();

        Assert.Equal(2, exitCode);
        Assert.Empty(stdout);
        Assert.Equal(
            "beyla-agent: cannot trace: tracefs is not mounted at /sys/kernel/tracing and this process may not mount it (needs CAP_SYS_ADMIN): run 'mount -t tracefs tracefs /sys/kernel/tracing' as root.",
            Assert.Single(stderr));
        Assert.Equal(mountedBefore, Directory.Exists("/sys/kernel/tracing/events"));
    }

    [BpfFact]
    public async Task WithAMissingLibbpfItExitsWithOneLineNamingThePackage()
    {
        using var agent = new AgentProcess(["env", "BEYLA_LIBBPF=/nonexistent-beyla-test/libbpf.so.1"], "--port", "8080", "--duration", "5");
        (int exitCode, List<string> stdout, List<string> stderr) = await agent.WaitForExitAsync();

        Assert.Equal(2, exitCode);
        Assert.Empty(stdout);
        Assert.Equal(
            "beyla-agent: cannot trace: BEYLA_LIBBPF=/nonexistent-beyla-test/libbpf.so.1 could not be loaded (cannot open shared object file: No such file or directory)" + LibBpfAdvice,
            Assert.Single(stderr));
    }

    [BpfFact]
    public async Task WithALibbpfOlderThan1Point0ItExitsWithOneLineNamingBothVersions()
    {
        using NativeShim old = NativeShim.FakeLibBpf("libbpf.so.0", 0, 8, LibBpf.EntryPoints);
        using var agent = new AgentProcess(["env", $"BEYLA_LIBBPF={old.Path}"], "--port", "8080", "--duration", "5");
        (int exitCode, List<string> stdout, List<string> stderr) = await agent.WaitForExitAsync();

        Assert.Equal(2, exitCode);
        Assert.Empty(stdout);
        Assert.Equal($"beyla-agent: cannot trace: BEYLA_LIBBPF={old.Path} is libbpf 0.8, too old" + LibBpfAdvice, Assert.Single(stderr));
    }
}
