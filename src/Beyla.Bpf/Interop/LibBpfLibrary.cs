using System.Collections.Concurrent;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Text;

namespace Beyla.Interop;

/// <summary>
/// Finds and loads libbpf.so.1 (the <c>BEYLA_LIBBPF</c> variable, the loader's search path,
/// then the usual library directories), checks its version, and keeps libbpf's recent
/// messages so that a failure can say what libbpf and the verifier said.
/// </summary>
internal static unsafe class LibBpfLibrary
{
    private static readonly Lock s_lock = new();
    private static readonly ConcurrentQueue<string> s_messages = new();
    private static bool s_initialised;
    private static nint s_handle;
    private static string? s_failure;

    private static readonly string[] s_candidates =
    [
        "/usr/lib/x86_64-linux-gnu/libbpf.so.1",
        "/lib/x86_64-linux-gnu/libbpf.so.1",
        "/usr/lib/aarch64-linux-gnu/libbpf.so.1",
        "/usr/lib64/libbpf.so.1",
        "/usr/lib/libbpf.so.1",
        "/usr/local/lib/libbpf.so.1",
        "/usr/local/lib64/libbpf.so.1",
    ];

    /// <summary>Loads libbpf once per process; throws a <see cref="BeylaException"/> naming what is missing.</summary>
    public static void EnsureLoaded()
    {
        lock (s_lock)
        {
            if (!s_initialised)
            {
                s_initialised = true;
                s_failure = TryLoad();
                if (s_failure is null)
                {
                    NativeLibrary.SetDllImportResolver(typeof(LibBpfLibrary).Assembly, Resolve);
                    uint major = LibBpf.MajorVersion();
                    uint minor = LibBpf.MinorVersion();
                    if (major < 1)
                        s_failure = $"libbpf {major}.{minor} is too old: 1.0 or newer is needed (apt-get install -y libbpf1)";
                    else
                        LibBpf.SetPrint(&OnMessage);
                }
            }
            if (s_failure is not null)
                throw new BeylaException(s_failure);
        }
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

    private static string? TryLoad()
    {
        string? fromEnvironment = Environment.GetEnvironmentVariable("BEYLA_LIBBPF");
        if (!string.IsNullOrEmpty(fromEnvironment))
        {
            return NativeLibrary.TryLoad(fromEnvironment, out s_handle)
                ? null
                : $"BEYLA_LIBBPF={fromEnvironment} could not be loaded";
        }
        if (NativeLibrary.TryLoad(LibBpf.Library, out s_handle))
            return null;
        foreach (string path in s_candidates)
        {
            if (File.Exists(path) && NativeLibrary.TryLoad(path, out s_handle))
                return null;
        }
        return "libbpf.so.1 was not found (install it: apt-get install -y libbpf1, or set BEYLA_LIBBPF to its path)";
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
