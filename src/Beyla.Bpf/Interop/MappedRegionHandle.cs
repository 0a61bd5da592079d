using System.Runtime.InteropServices;

namespace Beyla.Interop;

/// <summary>A region mapped with mmap, unmapped on release.</summary>
internal sealed class MappedRegionHandle : SafeHandle
{
    public MappedRegionHandle(nint address, nuint length)
        : base(-1, ownsHandle: true)
    {
        SetHandle(address);
        Length = length;
    }

    public nuint Length { get; }

    public override bool IsInvalid => handle == -1 || handle == 0;

    protected override bool ReleaseHandle() => LibC.Munmap(handle, Length) == 0;
}
