using System.Runtime.InteropServices;

namespace Beyla.Interop;

/// <summary>An open libbpf <c>bpf_object</c>; closing it unloads its programs and maps.</summary>
internal sealed class BpfObjectHandle : SafeHandle
{
    public BpfObjectHandle()
        : base(0, ownsHandle: true)
    {
    }

    public override bool IsInvalid => handle == 0;

    protected override bool ReleaseHandle()
    {
        LibBpf.ObjectClose(handle);
        return true;
    }
}
