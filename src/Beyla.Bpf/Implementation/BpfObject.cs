using System.Runtime.InteropServices;
using Beyla.Interop;

namespace Beyla.Implementation;

/// <summary>
/// One compiled probe set embedded in this assembly, opened and loaded with libbpf: settings
/// go into .rodata and map sizes are set before load, then every program is attached.
/// Disposing detaches every link and closes the object, which frees its programs and maps.
/// </summary>
internal sealed unsafe class BpfObject : IDisposable
{
    private readonly BpfObjectHandle _object;
    private readonly List<BpfLinkHandle> _links = [];
    private readonly string _name;
    private GCHandle _image;

    private BpfObject(string name, BpfObjectHandle obj, GCHandle image)
    {
        _name = name;
        _object = obj;
        _image = image;
    }

    public int AttachedPrograms => _links.Count;

    /// <summary>Opens the embedded object <c>Beyla.Bpf.{name}.bpf.o</c>.</summary>
    public static BpfObject Open(string name)
    {
        LibBpfLibrary.EnsureLoaded();
        string resource = $"Beyla.Bpf.{name}.bpf.o";
        using Stream stream = typeof(BpfObject).Assembly.GetManifestResourceStream(resource)
            ?? throw new BeylaException($"The BPF object {resource} is not embedded in {typeof(BpfObject).Assembly.GetName().Name}: the build did not compile it.");
        byte[] bytes = new byte[stream.Length];
        stream.ReadExactly(bytes);
        // libbpf keeps pointers into the image until the object is closed.
        GCHandle image = GCHandle.Alloc(bytes, GCHandleType.Pinned);
        LibBpfLibrary.ClearMessages();
        nint obj = LibBpf.ObjectOpenMem((byte*)image.AddrOfPinnedObject(), (nuint)bytes.Length, null);
        if (obj == 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            image.Free();
            throw BpfException.FromErrno($"open the {name} probe set", errno, LibBpfLibrary.RecentMessages());
        }
        var handle = new BpfObjectHandle();
        Marshal.InitHandle(handle, obj);
        return new BpfObject(name, handle, image);
    }

    /// <summary>Copies <paramref name="settings"/> into the object's .rodata before load.</summary>
    public void SetReadOnlyData<T>(in T settings)
        where T : unmanaged
    {
        nint map = FindMap(m => m.EndsWith(".rodata", StringComparison.Ordinal))
            ?? throw new BeylaException($"The {_name} probe set has no .rodata section for its settings.");
        nuint size;
        void* data = LibBpf.MapInitialValue(map, &size);
        if (data == null || size < (nuint)sizeof(T))
            throw new BeylaException($"The {_name} probe set's .rodata is {size} bytes, smaller than its settings ({sizeof(T)} bytes).");
        *(T*)data = settings;
    }

    public void SetMaxEntries(string mapName, int maxEntries)
    {
        nint map = FindMap(m => m == mapName) ?? throw new BeylaException($"The {_name} probe set has no map named {mapName}.");
        int rc = LibBpf.MapSetMaxEntries(map, (uint)maxEntries);
        if (rc != 0)
            throw BpfException.FromErrno($"size the map {mapName}", -rc);
    }

    /// <summary>
    /// Makes the map <paramref name="innerMapFd"/> the template of the maps that the map-in-map
    /// <paramref name="outerMapName"/> holds (instead of its definition in the object), before load.
    /// </summary>
    public void SetInnerMapTemplate(string outerMapName, int innerMapFd)
    {
        nint outer = FindMap(m => m == outerMapName) ?? throw new BeylaException($"The {_name} probe set has no map named {outerMapName}.");
        int rc = LibBpf.MapSetInnerMapFd(outer, innerMapFd);
        if (rc != 0)
            throw BpfException.FromErrno($"set the template of the maps held by {outerMapName}", -rc);
    }

    /// <summary>Makes this object use another object's map (same definition) instead of creating its own.</summary>
    public void ShareMap(string mapName, int fd)
    {
        nint map = FindMap(m => m == mapName) ?? throw new BeylaException($"The {_name} probe set has no map named {mapName}.");
        int rc = LibBpf.MapReuseFd(map, fd);
        if (rc != 0)
            throw BpfException.FromErrno($"share the map {mapName} with the {_name} probe set", -rc);
    }

    /// <summary>
    /// Attaches the program <paramref name="programName"/> as a uprobe (or uretprobe) on
    /// <paramref name="function"/> in <paramref name="binaryPath"/>, for one process or all (-1).
    /// Returns null when the binary has no such function.
    /// </summary>
    public BpfLinkHandle? AttachUprobe(string programName, int pid, string binaryPath, string function, bool returnProbe, ulong functionOffset = 0)
    {
        nint program = FindProgram(programName);
        byte[] path = System.Text.Encoding.UTF8.GetBytes(binaryPath + "\0");
        byte[] func = System.Text.Encoding.UTF8.GetBytes(function + "\0");
        nint link;
        int errno;
        fixed (byte* pathPtr = path)
        fixed (byte* funcPtr = func)
        {
            // With an offset, libbpf need not read the file's symbols again: much faster.
            var options = new LibBpf.UprobeOpts
            {
                Size = (nuint)sizeof(LibBpf.UprobeOpts),
                RetProbe = returnProbe ? (byte)1 : (byte)0,
                FunctionName = functionOffset == 0 ? funcPtr : null,
            };
            LibBpfLibrary.ClearMessages();
            link = LibBpf.ProgramAttachUprobeOpts(program, pid, pathPtr, (nuint)functionOffset, &options);
            errno = Marshal.GetLastPInvokeError();
        }
        if (link == 0)
        {
            // ENOENT: the file has no such symbol; ESRCH: the process is gone.
            if (errno is 2 or 3)
                return null;
            throw BpfException.FromErrno($"attach a uprobe on {function} in {binaryPath} (pid {pid})", errno, LibBpfLibrary.RecentMessages());
        }
        var handle = new BpfLinkHandle();
        Marshal.InitHandle(handle, link);
        return handle;
    }

    /// <summary>Has program <paramref name="programName"/> loaded for uprobe_multi links (before <see cref="Load"/>; see <see cref="AttachUprobeMulti"/>).</summary>
    public void UseUprobeMultiLinks(string programName)
    {
        if (LibBpf.ProgramSetExpectedAttachType(FindProgram(programName), LibBpf.AttachTraceUprobeMulti) != 0)
            throw new BeylaException($"The {_name} probe set could not set the attach type of {programName}: it is loaded already.");
    }

    /// <summary>
    /// Attaches the program <paramref name="programName"/>, loaded after <see cref="UseUprobeMultiLinks"/>,
    /// as uprobes (or uretprobes) at <paramref name="offsets"/> in <paramref name="binaryPath"/>, each with
    /// its attach cookie, for one process or all (-1), through one uprobe_multi link. Returns null when
    /// the process is gone.
    /// </summary>
    public FileDescriptorHandle? AttachUprobeMulti(string programName, int pid, string binaryPath, bool returnProbe, ulong[] offsets, ulong[] cookies)
    {
        int programFd = ProgramFd(programName);
        FileDescriptorHandle? link = UprobeMultiLink.Create(programFd, binaryPath, offsets, cookies, returnProbe, pid, out int errno);
        if (link is null && errno != 3) // ESRCH: the process is gone
            throw BpfException.FromErrno($"attach {programName} in {binaryPath} (pid {pid}) with a uprobe_multi link", errno, "");
        return link;
    }

    /// <summary>The fd of program <paramref name="programName"/>, once loaded.</summary>
    public int ProgramFd(string programName) => LibBpf.ProgramFd(FindProgram(programName));

    /// <summary>Keeps program <paramref name="programName"/> from being loaded and attached (before <see cref="Load"/>).</summary>
    public void LeaveOut(string programName)
    {
        if (LibBpf.ProgramSetAutoload(FindProgram(programName), false) != 0)
            throw new BeylaException($"The {_name} probe set could not leave out {programName}: it is loaded already.");
    }

    private nint FindProgram(string programName)
    {
        nint program;
        byte[] nameBytes = System.Text.Encoding.UTF8.GetBytes(programName + "\0");
        fixed (byte* name = nameBytes)
            program = LibBpf.ObjectFindProgramByName(_object.DangerousGetHandle(), name);
        return program != 0 ? program : throw new BeylaException($"The {_name} probe set has no program named {programName}.");
    }

    public void Load()
    {
        LibBpfLibrary.ClearMessages();
        int rc = LibBpf.ObjectLoad(_object.DangerousGetHandle());
        if (rc != 0)
            throw BpfException.FromErrno($"load the {_name} probe set into the kernel", -rc, LibBpfLibrary.RecentMessages());
    }

    public int MapFd(string mapName)
    {
        nint map = FindMap(m => m == mapName) ?? throw new BeylaException($"The {_name} probe set has no map named {mapName}.");
        return LibBpf.MapFd(map);
    }

    public int MapValueSize(string mapName)
    {
        nint map = FindMap(m => m == mapName) ?? throw new BeylaException($"The {_name} probe set has no map named {mapName}.");
        return (int)LibBpf.MapValueSize(map);
    }

    /// <summary>Attaches every program not left out (the section name says where); on failure nothing stays attached.</summary>
    public void AttachAll()
    {
        nint obj = _object.DangerousGetHandle();
        for (nint prog = LibBpf.ObjectNextProgram(obj, 0); prog != 0; prog = LibBpf.ObjectNextProgram(obj, prog))
        {
            if (!LibBpf.ProgramAutoload(prog))
                continue; // left out
            LibBpfLibrary.ClearMessages();
            nint link = LibBpf.ProgramAttach(prog);
            if (link == 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                string section = Marshal.PtrToStringUTF8((nint)LibBpf.ProgramSectionName(prog)) ?? "?";
                DetachAll();
                throw BpfException.FromErrno($"attach {section} of the {_name} probe set", errno, LibBpfLibrary.RecentMessages());
            }
            var handle = new BpfLinkHandle();
            Marshal.InitHandle(handle, link);
            _links.Add(handle);
        }
    }

    private void DetachAll()
    {
        foreach (BpfLinkHandle link in _links)
            link.Dispose();
        _links.Clear();
    }

    private nint? FindMap(Func<string, bool> match)
    {
        nint obj = _object.DangerousGetHandle();
        for (nint map = LibBpf.ObjectNextMap(obj, 0); map != 0; map = LibBpf.ObjectNextMap(obj, map))
        {
            string name = Marshal.PtrToStringUTF8((nint)LibBpf.MapName(map)) ?? "";
            if (match(name))
                return map;
        }
        return null;
    }

    public void Dispose()
    {
        DetachAll();
        _object.Dispose();
        if (_image.IsAllocated)
            _image.Free();
    }
}
