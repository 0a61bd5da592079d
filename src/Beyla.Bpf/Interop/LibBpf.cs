using System.Runtime.InteropServices;

namespace Beyla.Interop;

/// <summary>The libbpf 1.x functions the probe sets use. Pointers are opaque libbpf objects.</summary>
internal static unsafe partial class LibBpf
{
    public const string Library = "libbpf.so.1";

    /// <summary>Every libbpf function imported below; a library that lacks one is refused before any is called.</summary>
    public static readonly string[] EntryPoints =
    [
        "bpf_object__open_mem",
        "bpf_object__load",
        "bpf_object__close",
        "bpf_object__next_map",
        "bpf_object__next_program",
        "bpf_map__name",
        "bpf_map__fd",
        "bpf_map__value_size",
        "bpf_map__set_max_entries",
        "bpf_map__initial_value",
        "bpf_program__section_name",
        "bpf_program__attach",
        "bpf_program__autoload",
        "bpf_program__set_autoload",
        "bpf_map__reuse_fd",
        "bpf_map__set_inner_map_fd",
        "bpf_map_create",
        "bpf_object__find_program_by_name",
        "bpf_program__attach_uprobe_opts",
        "bpf_program__set_expected_attach_type",
        "bpf_program__fd",
        "bpf_link__destroy",
        "bpf_map_update_elem",
        "bpf_map_lookup_elem",
        "bpf_map_get_next_key",
        "bpf_map_delete_elem",
        "libbpf_num_possible_cpus",
        "libbpf_set_print",
        "libbpf_major_version",
        "libbpf_minor_version",
    ];

    [LibraryImport(Library, EntryPoint = "bpf_object__open_mem", SetLastError = true)]
    public static partial nint ObjectOpenMem(byte* buffer, nuint size, void* options);

    [LibraryImport(Library, EntryPoint = "bpf_object__load", SetLastError = true)]
    public static partial int ObjectLoad(nint obj);

    [LibraryImport(Library, EntryPoint = "bpf_object__close")]
    public static partial void ObjectClose(nint obj);

    [LibraryImport(Library, EntryPoint = "bpf_object__next_map")]
    public static partial nint ObjectNextMap(nint obj, nint previous);

    [LibraryImport(Library, EntryPoint = "bpf_object__next_program")]
    public static partial nint ObjectNextProgram(nint obj, nint previous);

    [LibraryImport(Library, EntryPoint = "bpf_map__name")]
    public static partial byte* MapName(nint map);

    [LibraryImport(Library, EntryPoint = "bpf_map__fd")]
    public static partial int MapFd(nint map);

    [LibraryImport(Library, EntryPoint = "bpf_map__value_size")]
    public static partial uint MapValueSize(nint map);

    [LibraryImport(Library, EntryPoint = "bpf_map__set_max_entries")]
    public static partial int MapSetMaxEntries(nint map, uint maxEntries);

    [LibraryImport(Library, EntryPoint = "bpf_map__initial_value")]
    public static partial void* MapInitialValue(nint map, nuint* size);

    [LibraryImport(Library, EntryPoint = "bpf_program__section_name")]
    public static partial byte* ProgramSectionName(nint program);

    [LibraryImport(Library, EntryPoint = "bpf_program__set_autoload")]
    public static partial int ProgramSetAutoload(nint program, [MarshalAs(UnmanagedType.U1)] bool autoload);

    [LibraryImport(Library, EntryPoint = "bpf_program__autoload")]
    [return: MarshalAs(UnmanagedType.U1)]
    public static partial bool ProgramAutoload(nint program);

    [LibraryImport(Library, EntryPoint = "bpf_program__attach", SetLastError = true)]
    public static partial nint ProgramAttach(nint program);

    [LibraryImport(Library, EntryPoint = "bpf_map__reuse_fd")]
    public static partial int MapReuseFd(nint map, int fd);

    [LibraryImport(Library, EntryPoint = "bpf_map__set_inner_map_fd")]
    public static partial int MapSetInnerMapFd(nint map, int fd);

    public const int MapTypeRingBuffer = 27;

    [LibraryImport(Library, EntryPoint = "bpf_map_create", SetLastError = true)]
    public static partial int MapCreate(int mapType, byte* name, uint keySize, uint valueSize, uint maxEntries, void* options);

    [LibraryImport(Library, EntryPoint = "bpf_object__find_program_by_name")]
    public static partial nint ObjectFindProgramByName(nint obj, byte* name);

    /// <summary>struct bpf_uprobe_opts as of libbpf 1.0 (newer versions accept this size).</summary>
    [System.Runtime.InteropServices.StructLayout(System.Runtime.InteropServices.LayoutKind.Sequential)]
    public struct UprobeOpts
    {
        public nuint Size;
        public nuint RefCounterOffset;
        public ulong Cookie;
        public byte RetProbe;
        public byte* FunctionName;
    }

    [LibraryImport(Library, EntryPoint = "bpf_program__attach_uprobe_opts", SetLastError = true)]
    public static partial nint ProgramAttachUprobeOpts(nint program, int pid, byte* binaryPath, nuint functionOffset, UprobeOpts* options);

    /// <summary>enum bpf_attach_type BPF_TRACE_UPROBE_MULTI (Linux 6.6).</summary>
    public const int AttachTraceUprobeMulti = 48;

    [LibraryImport(Library, EntryPoint = "bpf_program__set_expected_attach_type")]
    public static partial int ProgramSetExpectedAttachType(nint program, int attachType);

    [LibraryImport(Library, EntryPoint = "bpf_program__fd")]
    public static partial int ProgramFd(nint program);

    [LibraryImport(Library, EntryPoint = "bpf_link__destroy")]
    public static partial int LinkDestroy(nint link);

    [LibraryImport(Library, EntryPoint = "bpf_map_update_elem", SetLastError = true)]
    public static partial int MapUpdateElem(int fd, void* key, void* value, ulong flags);

    [LibraryImport(Library, EntryPoint = "bpf_map_lookup_elem", SetLastError = true)]
    public static partial int MapLookupElem(int fd, void* key, void* value);

    [LibraryImport(Library, EntryPoint = "bpf_map_get_next_key", SetLastError = true)]
    public static partial int MapGetNextKey(int fd, void* key, void* nextKey);

    [LibraryImport(Library, EntryPoint = "bpf_map_delete_elem", SetLastError = true)]
    public static partial int MapDeleteElem(int fd, void* key);

    [LibraryImport(Library, EntryPoint = "libbpf_num_possible_cpus")]
    public static partial int NumPossibleCpus();

    [LibraryImport(Library, EntryPoint = "libbpf_set_print")]
    public static partial nint SetPrint(delegate* unmanaged<int, byte*, nint, int> callback);

    [LibraryImport(Library, EntryPoint = "libbpf_major_version")]
    public static partial uint MajorVersion();

    [LibraryImport(Library, EntryPoint = "libbpf_minor_version")]
    public static partial uint MinorVersion();
}
