using System.Runtime.InteropServices;

namespace Beyla.Implementation;

/// <summary>Mirror of <c>struct probe_settings</c> in bpf/http_event.h, written into .rodata before load.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct ProbeSettings
{
    public uint TraceAllProcesses;
    public uint WakeupBytes;
    public uint TlsEnabled;
    public uint Reserved;
}
