using System.Runtime.InteropServices;

namespace Beyla.Interop;

/// <summary>An attached libbpf <c>bpf_link</c>; destroying it detaches the program.</summary>
internal sealed class BpfLinkHandle : SafeHandle
{
    public BpfLinkHandle()
        : base(0, ownsHandle: true)
    {
    }

    public override bool IsInvalid => handle == 0;

    protected override bool ReleaseHandle() => LibBpf.LinkDestroy(handle) == 0;
}
