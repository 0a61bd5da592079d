using System.Reflection;
using System.Runtime.InteropServices;
using Beyla.Implementation;
using Beyla.Interop;

namespace Beyla.Bpf.Tests;

/// <summary>
/// No kernel BTF, no usable libbpf, no tracefs: each is a <see cref="MissingRequirementException"/>
/// naming what is missing, what was found and what to do. The libbpf and tracefs checks run
/// without privileges; the Build() cases need root to get past the capability check.
/// </summary>
public sealed class RequirementTests
{
    private const string LibBpfAdvice = ": Beyla needs libbpf 1.0 or newer; install it (Debian/Ubuntu: apt-get install -y libbpf1) or set BEYLA_LIBBPF to its path.";

    [BpfFact]
    public void BuildWithoutKernelBtfNamesThePathAndTheKernelOption()
    {
        const string missing = "/nonexistent-beyla-test/btf/vmlinux";
        KernelRequirements.BtfPath = missing;
        try
        {
            var ex = Assert.Throws<MissingRequirementException>(() => new BeylaBuilder().TraceProcesses(p => p.Current()).WithHttpProbes().Build());
            Assert.Equal(EnvironmentRequirement.KernelBtf, ex.Requirement);
            Assert.Equal(
                "The kernel exposes no BTF (/nonexistent-beyla-test/btf/vmlinux is missing): the probes need a kernel built with CONFIG_DEBUG_INFO_BTF=y, as most distribution kernels are; boot such a kernel.",
                ex.Message);
        }
        finally
        {
            KernelRequirements.BtfPath = KernelRequirements.DefaultBtfPath;
        }
    }

    [BpfFact]
    public void BuildWhenTracefsCannotBeMountedSaysWhyAndHowToMountIt()
    {
        // As root the library mounts tracefs itself; a mount point that does not exist makes the mount fail.
        KernelRequirements.TraceFsPath = "/nonexistent-beyla-test/tracing";
        KernelRequirements.DebugFsTracingPath = "/nonexistent-beyla-test/debug/tracing";
        try
        {
            var ex = Assert.Throws<MissingRequirementException>(() => new BeylaBuilder().TraceProcesses(p => p.Current()).WithHttpProbes().Build());
            Assert.Equal(EnvironmentRequirement.TraceFs, ex.Requirement);
            Assert.Equal(
                "tracefs is not mounted at /nonexistent-beyla-test/tracing and mounting it failed: No such file or directory (errno 2): run 'mount -t tracefs tracefs /nonexistent-beyla-test/tracing' as root (in a container, mount the host's /sys/kernel/tracing into it).",
                ex.Message);
        }
        finally
        {
            KernelRequirements.TraceFsPath = KernelRequirements.DefaultTraceFsPath;
            KernelRequirements.DebugFsTracingPath = KernelRequirements.DefaultDebugFsTracingPath;
        }
    }

    [Fact]
    public void WithoutTracefsAndWithoutCapSysAdminItSaysHowToMountIt()
    {
        DirectoryInfo empty = Directory.CreateTempSubdirectory("beyla-tracefs-");
        try
        {
            var ex = Assert.Throws<MissingRequirementException>(() => KernelRequirements.EnsureTraceFs(empty.FullName, "/nonexistent-beyla-test/debug/tracing", canMount: false));
            Assert.Equal(EnvironmentRequirement.TraceFs, ex.Requirement);
            Assert.Equal(
                $"tracefs is not mounted at {empty.FullName} and this process may not mount it (needs CAP_SYS_ADMIN): run 'mount -t tracefs tracefs {empty.FullName}' as root.",
                ex.Message);

            // Mounted (its events directory is there), under tracefs or debugfs: nothing to do, no mount attempted.
            empty.CreateSubdirectory("events");
            KernelRequirements.EnsureTraceFs(empty.FullName, "/nonexistent-beyla-test/debug/tracing", canMount: false);
            KernelRequirements.EnsureTraceFs("/nonexistent-beyla-test/tracing", empty.FullName, canMount: false);
        }
        finally
        {
            empty.Delete(recursive: true);
        }
    }

    [Fact]
    public void AMissingBtfFileIsNamedWithTheKernelOption()
    {
        var ex = Assert.Throws<MissingRequirementException>(() => KernelRequirements.CheckBtf("/nonexistent-beyla-test/vmlinux"));
        Assert.Equal(EnvironmentRequirement.KernelBtf, ex.Requirement);
        Assert.Equal("The kernel exposes no BTF (/nonexistent-beyla-test/vmlinux is missing): the probes need a kernel built with CONFIG_DEBUG_INFO_BTF=y, as most distribution kernels are; boot such a kernel.", ex.Message);
        KernelRequirements.CheckBtf(typeof(RequirementTests).Assembly.Location); // any existing file passes
    }

    [Fact]
    public void TheEntryPointListNamesEveryLibbpfImport()
    {
        string[] imported = typeof(LibBpf).GetMethods(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static)
            .Select(m => m.GetCustomAttribute<LibraryImportAttribute>())
            .Where(a => a is not null)
            .Select(a => a!.EntryPoint!)
            .Order(StringComparer.Ordinal)
            .ToArray();
        Assert.Equal(30, imported.Length);
        Assert.Equal(imported, LibBpf.EntryPoints.Order(StringComparer.Ordinal));
        Assert.Contains("bpf_program__attach_uprobe_opts", LibBpf.EntryPoints);
    }

    [Fact]
    public void TheInstalledLibbpfIsFoundAndPassesTheChecks()
    {
        nint handle = LibBpfLibrary.Find(null, LibBpf.Library, LibBpfLibrary.Candidates, out Version version);
        try
        {
            Assert.NotEqual(0, handle);
            Assert.True(version >= LibBpfLibrary.MinimumVersion, version.ToString());
            Assert.Equal(1, version.Major);
            // The version libbpf reports agrees with its file name (Debian 12: libbpf.so.1 -> libbpf.so.1.1.2).
            string? installed = LibBpfLibrary.Candidates.Where(File.Exists).Select(p => new FileInfo(p).ResolveLinkTarget(returnFinalTarget: true)?.Name).FirstOrDefault(n => n is not null);
            if (installed is not null && installed.StartsWith("libbpf.so.", StringComparison.Ordinal))
                Assert.StartsWith($"libbpf.so.{version.Major}.{version.Minor}.", installed, StringComparison.Ordinal);
        }
        finally
        {
            NativeLibrary.Free(handle);
        }
    }

    [Fact]
    public void ANonexistentBeylaLibbpfIsNamedWithTheLoadersReason()
    {
        var ex = Assert.Throws<MissingRequirementException>(() => LibBpfLibrary.Find("/nonexistent-beyla-test/libbpf.so.1", LibBpf.Library, LibBpfLibrary.Candidates, out _));
        Assert.Equal(EnvironmentRequirement.LibBpf, ex.Requirement);
        Assert.Equal("BEYLA_LIBBPF=/nonexistent-beyla-test/libbpf.so.1 could not be loaded (cannot open shared object file: No such file or directory)" + LibBpfAdvice, ex.Message);
    }

    [Fact]
    public void NoLibbpfAnywhereSaysWhereItLooked()
    {
        var ex = Assert.Throws<MissingRequirementException>(() => LibBpfLibrary.Find(null, "libbpf-beyla-test-absent.so.1", ["/nonexistent-beyla-test/a/libbpf.so.1", "/nonexistent-beyla-test/b/libbpf.so.1"], out _));
        Assert.Equal(EnvironmentRequirement.LibBpf, ex.Requirement);
        Assert.Equal("libbpf-beyla-test-absent.so.1 was not found on the loader's search path or in /nonexistent-beyla-test/a, /nonexistent-beyla-test/b" + LibBpfAdvice, ex.Message);
    }

    [Fact]
    public void AFileThatIsNotALibraryIsRefused()
    {
        string path = Path.GetTempFileName();
        try
        {
            File.WriteAllText(path, string.Concat(Enumerable.Repeat("not a shared library\n", 20))); // longer than an ELF header
            var ex = Assert.Throws<MissingRequirementException>(() => LibBpfLibrary.Find(path, LibBpf.Library, LibBpfLibrary.Candidates, out _));
            Assert.Equal($"BEYLA_LIBBPF={path} could not be loaded (invalid ELF header)" + LibBpfAdvice, ex.Message);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void ASharedLibraryThatIsNotLibbpfIsRefused()
    {
        using NativeShim shim = NativeShim.Compile("libnotbpf.so", "int something_else(void) { return 1; }\n");
        var ex = Assert.Throws<MissingRequirementException>(() => LibBpfLibrary.Find(shim.Path, LibBpf.Library, LibBpfLibrary.Candidates, out _));
        Assert.Equal(EnvironmentRequirement.LibBpf, ex.Requirement);
        Assert.Equal($"BEYLA_LIBBPF={shim.Path} is not libbpf, or is a libbpf older than 0.6 (it has no libbpf_major_version)" + LibBpfAdvice, ex.Message);
    }

    [Fact]
    public void ALibbpfOlderThan1Point0NamesItsVersion()
    {
        // libbpf 0.8 has every function the probe sets call, but 0.x semantics (error pointers).
        using NativeShim shim = NativeShim.FakeLibBpf("libbpf.so.0", 0, 8, LibBpf.EntryPoints);
        var ex = Assert.Throws<MissingRequirementException>(() => LibBpfLibrary.Find(shim.Path, LibBpf.Library, LibBpfLibrary.Candidates, out _));
        Assert.Equal(EnvironmentRequirement.LibBpf, ex.Requirement);
        Assert.Equal($"BEYLA_LIBBPF={shim.Path} is libbpf 0.8, too old" + LibBpfAdvice, ex.Message);

        // Found in a usual directory rather than named: the same verdict, not "not found".
        ex = Assert.Throws<MissingRequirementException>(() => LibBpfLibrary.Find(null, "libbpf-beyla-test-absent.so.1", ["/nonexistent-beyla-test/libbpf.so.1", shim.Path], out _));
        Assert.Equal($"{shim.Path} is libbpf 0.8, too old" + LibBpfAdvice, ex.Message);
    }

    [Fact]
    public void ALibbpfLackingAFunctionTheProbesCallIsRefused()
    {
        using NativeShim shim = NativeShim.FakeLibBpf("libbpf.so.1", 1, 0, LibBpf.EntryPoints.Where(f => f != "bpf_program__attach_uprobe_opts"));
        var ex = Assert.Throws<MissingRequirementException>(() => LibBpfLibrary.Find(shim.Path, LibBpf.Library, LibBpfLibrary.Candidates, out _));
        Assert.Equal(EnvironmentRequirement.LibBpf, ex.Requirement);
        Assert.Equal($"BEYLA_LIBBPF={shim.Path} is libbpf 1.0 but lacks bpf_program__attach_uprobe_opts" + LibBpfAdvice, ex.Message);

        // The same library with every function passes: the check is on the function, not the version.
        using NativeShim complete = NativeShim.FakeLibBpf("libbpf.so.1", 1, 0, LibBpf.EntryPoints);
        nint handle = LibBpfLibrary.Find(complete.Path, LibBpf.Library, LibBpfLibrary.Candidates, out Version version);
        Assert.NotEqual(0, handle);
        Assert.Equal(new Version(1, 0), version);
        NativeLibrary.Free(handle);
    }
}
