using System.Diagnostics;

namespace Beyla.Bpf.Tests;

/// <summary>A tiny shared library compiled from C with clang (which the build needs anyway) into a temporary directory, deleted on dispose.</summary>
internal sealed class NativeShim : IDisposable
{
    private readonly string _directory;

    private NativeShim(string directory, string path)
    {
        _directory = directory;
        Path = path;
    }

    /// <summary>The library's full path.</summary>
    public string Path { get; }

    /// <summary>Compiles <paramref name="source"/> into a shared library named <paramref name="fileName"/>, with clang's <paramref name="flags"/> besides.</summary>
    public static NativeShim Compile(string fileName, string source, params string[] flags)
    {
        string directory = Directory.CreateTempSubdirectory("beyla-shim-").FullName;
        string c = System.IO.Path.Combine(directory, "shim.c");
        string library = System.IO.Path.Combine(directory, fileName);
        File.WriteAllText(c, source);
        string clang = File.Exists("/usr/bin/clang-14") ? "/usr/bin/clang-14" : "clang";
        var info = new ProcessStartInfo(clang) { RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in (string[])["-shared", "-fPIC", "-O1", .. flags, "-o", library, c])
            info.ArgumentList.Add(a);
        using Process p = Process.Start(info)!;
        string errors = p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"{clang} could not compile the shim: {errors}");
        return new NativeShim(directory, library);
    }

    /// <summary>A library that says it is libbpf <paramref name="major"/>.<paramref name="minor"/> and exports <paramref name="functions"/> as empty stubs.</summary>
    public static NativeShim FakeLibBpf(string fileName, uint major, uint minor, IEnumerable<string> functions)
    {
        var source = new System.Text.StringBuilder();
        source.AppendLine(System.FormattableString.Invariant($"unsigned int libbpf_major_version(void) {{ return {major}; }}"));
        source.AppendLine(System.FormattableString.Invariant($"unsigned int libbpf_minor_version(void) {{ return {minor}; }}"));
        foreach (string f in functions.Where(f => f is not "libbpf_major_version" and not "libbpf_minor_version"))
            source.AppendLine($"void {f}(void) {{ }}");
        return Compile(fileName, source.ToString());
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
