using System.Collections.Concurrent;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Text;

namespace Beyla.Interop;

/// <summary>
/// Finds and loads libbpf.so.1 (the <c>BEYLA_LIBBPF</c> variable, the loader's search path,
/// then the usual library directories), checks that it is libbpf 1.0 or newer with every
/// function the probe sets call, and keeps libbpf's recent messages so that a failure can say
/// what libbpf and the verifier said.
/// </summary>
internal static unsafe class LibBpfLibrary
{
    /// <summary>The environment variable that names the libbpf to load, bypassing the search.</summary>
    public const string PathVariable = "BEYLA_LIBBPF";

    /// <summary>
    /// The oldest libbpf the interop works with: NULL-and-errno error returns, the 1.0 API names
    /// (<c>bpf_object__next_map</c>, ...), <c>bpf_uprobe_opts.func_name</c>.
    /// </summary>
    public static readonly Version MinimumVersion = new(1, 0);

    private static readonly Lock s_lock = new();
    private static readonly ConcurrentQueue<string> s_messages = new();
    private static bool s_initialised;
    private static nint s_handle;
    private static string? s_failure;

    /// <summary>Where libbpf.so.1 usually is, tried after the loader's own search.</summary>
    internal static readonly string[] Candidates =
    [
        "/usr/lib/x86_64-linux-gnu/libbpf.so.1",
        "/lib/x86_64-linux-gnu/libbpf.so.1",
        "/usr/lib/aarch64-linux-gnu/libbpf.so.1",
        "/usr/lib64/libbpf.so.1",
        "/usr/lib/libbpf.so.1",
        "/usr/local/lib/libbpf.so.1",
        "/usr/local/lib64/libbpf.so.1",
    ];

    /// <summary>Loads libbpf once per process; throws a <see cref="MissingRequirementException"/> naming what is missing.</summary>
    public static void EnsureLoaded()
    {
        lock (s_lock)
        {
            if (!s_initialised)
            {
                s_initialised = true;
                try
                {
                    s_handle = Find(Environment.GetEnvironmentVariable(PathVariable), LibBpf.Library, Candidates, out _);
                    NativeLibrary.SetDllImportResolver(typeof(LibBpfLibrary).Assembly, Resolve);
                    LibBpf.SetPrint(&OnMessage);
                }
                catch (MissingRequirementException ex)
                {
                    s_failure = ex.Message;
                }
            }
            if (s_failure is not null)
                throw new MissingRequirementException(EnvironmentRequirement.LibBpf, s_failure);
        }
    }

    /// <summary>
    /// Finds a usable libbpf: <paramref name="configuredPath"/> (from <c>BEYLA_LIBBPF</c>) when
    /// set, else <paramref name="libraryName"/> on the loader's search path, else the first of
    /// <paramref name="candidates"/> that loads and passes <see cref="Open"/>'s checks.
    /// </summary>
    /// <returns>The library's handle.</returns>
    internal static nint Find(string? configuredPath, string libraryName, IReadOnlyList<string> candidates, out Version version)
    {
        if (!string.IsNullOrEmpty(configuredPath))
            return Open(configuredPath, $"{PathVariable}={configuredPath}", out version);
        MissingRequirementException? firstFailure = null;
        if (NativeLibrary.TryLoad(libraryName, out nint byName))
        {
            NativeLibrary.Free(byName);
            try
            {
                return Open(libraryName, $"{libraryName} (from the loader's search path)", out version);
            }
            catch (MissingRequirementException ex)
            {
                firstFailure = ex;
            }
        }
        foreach (string path in candidates)
        {
            if (!File.Exists(path))
                continue;
            try
            {
                return Open(path, path, out version);
            }
            catch (MissingRequirementException ex)
            {
                firstFailure ??= ex;
            }
        }
        throw firstFailure ?? Failure($"{libraryName} was not found on the loader's search path or in {string.Join(", ", candidates.Select(Path.GetDirectoryName).Distinct())}");
    }

    /// <summary>
    /// Loads the library at <paramref name="path"/> and checks that it is libbpf
    /// <see cref="MinimumVersion"/> or newer and exports every function in <see cref="LibBpf.EntryPoints"/>.
    /// </summary>
    /// <param name="path">A file path, or a library name for the loader to search.</param>
    /// <param name="description">How messages name the library.</param>
    /// <param name="version">The library's version.</param>
    /// <returns>The library's handle; the caller frees it when it is not kept.</returns>
    internal static nint Open(string path, string description, out Version version)
    {
        nint handle;
        try
        {
            handle = NativeLibrary.Load(path);
        }
        catch (DllNotFoundException ex)
        {
            throw Failure($"{description} could not be loaded ({LoaderError(ex.Message, path)})");
        }
        catch (BadImageFormatException ex)
        {
            throw Failure($"{description} could not be loaded ({ex.Message})");
        }
        try
        {
            if (!NativeLibrary.TryGetExport(handle, "libbpf_major_version", out nint majorFunction)
                || !NativeLibrary.TryGetExport(handle, "libbpf_minor_version", out nint minorFunction))
            {
                throw Failure($"{description} is not libbpf, or is a libbpf older than 0.6 (it has no libbpf_major_version)");
            }
            version = new Version((int)((delegate* unmanaged<uint>)majorFunction)(), (int)((delegate* unmanaged<uint>)minorFunction)());
            if (version < MinimumVersion)
                throw Failure($"{description} is libbpf {version}, too old");
            string[] missing = LibBpf.EntryPoints.Where(name => !NativeLibrary.TryGetExport(handle, name, out _)).ToArray();
            if (missing.Length > 0)
                throw Failure($"{description} is libbpf {version} but lacks {string.Join(", ", missing)}");
            return handle;
        }
        catch
        {
            NativeLibrary.Free(handle);
            throw;
        }
    }

    private static MissingRequirementException Failure(string what) =>
        new(EnvironmentRequirement.LibBpf,
            $"{what}: Beyla needs libbpf {MinimumVersion} or newer; install it (Debian/Ubuntu: apt-get install -y libbpf1) or set {PathVariable} to its path.");

    /// <summary>The loader's own reason (dlerror), which the runtime puts on the last line of its message.</summary>
    private static string LoaderError(string message, string path)
    {
        string last = message.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault() ?? message;
        return last.StartsWith(path + ": ", StringComparison.Ordinal) ? last[(path.Length + 2)..] : last;
    }

    /// <summary>Forgets the messages collected so far.</summary>
    public static void ClearMessages() => s_messages.Clear();

    /// <summary>The last warnings libbpf printed (verifier logs included), newest last.</summary>
    public static string RecentMessages(int maxChars = 4000)
    {
        string all = string.Concat(s_messages);
        // A verifier log is long; its verdict is in the lines just before "processed N insns".
        int processed = all.LastIndexOf("\nprocessed ", StringComparison.Ordinal);
        if (processed > 0)
        {
            int from = processed;
            for (int lines = 0; lines < 12 && from > 0; lines++)
                from = all.LastIndexOf('\n', from - 1);
            return "verifier log (end): " + all[(from + 1)..processed].Trim();
        }
        return all.Length <= maxChars ? all : "..." + all[^maxChars..];
    }

    private static nint Resolve(string name, Assembly assembly, DllImportSearchPath? searchPath) =>
        name == LibBpf.Library ? s_handle : 0;

    [UnmanagedCallersOnly]
    private static int OnMessage(int level, byte* format, nint args)
    {
        // level: 0 warn, 1 info, 2 debug. Keep warnings and infos: they carry the verifier log.
        if (level > 1)
            return 0;
        const int size = 64 * 1024;
        byte* buffer = (byte*)NativeMemory.Alloc(size);
        try
        {
            int n = LibC.Vsnprintf(buffer, size, format, args);
            if (n > 0)
            {
                s_messages.Enqueue(Encoding.UTF8.GetString(buffer, Math.Min(n, size - 1)));
                while (s_messages.Count > 64)
                    s_messages.TryDequeue(out _);
            }
        }
        finally
        {
            NativeMemory.Free(buffer);
        }
        return 0;
    }
}
