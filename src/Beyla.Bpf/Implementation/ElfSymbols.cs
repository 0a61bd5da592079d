using System.Buffers.Binary;
using System.Text;
using Microsoft.Win32.SafeHandles;

namespace Beyla.Implementation;

/// <summary>
/// Finds functions in an ELF64 little-endian file (its .symtab and .dynsym) and gives the file
/// offsets to probe them at. Resolving once per file keeps attaching fast enough to win the race
/// against a program that has just loaded a library.
/// </summary>
internal static class ElfSymbols
{
    private const uint SectionSymbolTable = 2;
    private const uint SectionDynamicSymbols = 11;
    private const uint SectionRelocations = 4; // SHT_RELA
    private const uint RelocationGlobalData = 6; // R_X86_64_GLOB_DAT
    private const uint RelocationJumpSlot = 7; // R_X86_64_JUMP_SLOT
    private const uint SegmentLoad = 1;
    private const ushort MachineX8664 = 62;

    /// <summary>endbr64, the landing pad that code built for Intel CET (-fcf-protection) starts functions with.</summary>
    private static ReadOnlySpan<byte> Endbr64 => [0xf3, 0x0f, 0x1e, 0xfa];

    /// <summary>
    /// File offsets at which to probe the wanted function names that the file defines (missing
    /// names are absent): each function's entry, or on x86-64 the instruction after it when the
    /// entry is endbr64. The kernel runs a probed instruction out of line with a single-step
    /// trap unless it can emulate it, which it does for a push (the usual first instruction with
    /// frame pointers, on 6.18 at least), a nop or a branch, but not for endbr64: the trap cost
    /// 8–11 µs per call in this VM, against about 1.2 µs for an entry and a return probe on an
    /// emulated push (benchmarks/uprobe_cost). endbr64 changes no register and no memory, and
    /// leaves the stack as at the entry: the arguments, and the return address a return probe
    /// takes, are the same. (Where the next instruction is not emulated either, the offset saves
    /// nothing and costs nothing.) A function of 4 bytes or fewer is probed at its entry.
    /// </summary>
    public static Dictionary<string, ulong> FindFunctions(string path, IReadOnlyCollection<string> names)
    {
        var found = new Dictionary<string, ulong>(StringComparer.Ordinal);
        byte[] file = File.ReadAllBytes(path);
        ReadOnlySpan<byte> elf = file;
        if (!IsElf64LittleEndian(elf))
            return found;
        bool x8664 = IsElf64X8664(elf);

        // only executable PT_LOAD segments hold functions
        var segments = ExecutableSegments(ProgramHeaders(elf, out int entrySize, out int count), entrySize, count);
        List<Section> sections = Sections(elf);
        foreach (Section table in sections)
        {
            if (table.Type is not (SectionSymbolTable or SectionDynamicSymbols) || table.EntrySize < 24 || table.Link >= (uint)sections.Count ||
                Slice(elf, table.Offset, table.Size).IsEmpty)
                continue; // (a table inside the file: the entries' offsets below cannot wrap)
            for (ulong index = 0; (index + 1) * table.EntrySize <= table.Size; index++)
            {
                ReadOnlySpan<byte> sym = Slice(elf, table.Offset + index * table.EntrySize, 24);
                if (sym.IsEmpty)
                    break;
                byte info = sym[4];
                ushort section = BinaryPrimitives.ReadUInt16LittleEndian(sym[6..]);
                ulong value = BinaryPrimitives.ReadUInt64LittleEndian(sym[8..]);
                ulong length = BinaryPrimitives.ReadUInt64LittleEndian(sym[16..]); // 0: not given
                if ((info & 0xf) != 2 || section == 0 || value == 0)
                    continue; // not a defined function
                string? symbol = SymbolName(elf, table, sections[(int)table.Link], index);
                if (symbol is null || !names.Contains(symbol) || found.ContainsKey(symbol))
                    continue;
                foreach ((ulong vaddr, ulong segmentSize, ulong segmentOffset, _) in segments)
                {
                    if (value >= vaddr && value < vaddr + segmentSize)
                    {
                        ulong entry = value - vaddr + segmentOffset;
                        bool skip = x8664 && length is 0 or > 4 && Slice(elf, entry, 4).SequenceEqual(Endbr64);
                        found[symbol] = skip ? entry + 4 : entry;
                        break;
                    }
                }
            }
        }
        return found;
    }

    /// <summary>A section header's fields that the readers here use.</summary>
    private readonly record struct Section(uint Type, ulong Offset, ulong Size, uint Link, ulong EntrySize);

    /// <summary>The section headers of an ELF64 little-endian file (those it holds whole).</summary>
    private static List<Section> Sections(ReadOnlySpan<byte> elf)
    {
        ulong shoff = BinaryPrimitives.ReadUInt64LittleEndian(elf[40..]);
        int shentsize = BinaryPrimitives.ReadUInt16LittleEndian(elf[58..]);
        int shnum = BinaryPrimitives.ReadUInt16LittleEndian(elf[60..]);
        var sections = new List<Section>(shnum);
        for (int i = 0; i < shnum; i++)
        {
            ReadOnlySpan<byte> sh = Slice(elf, shoff + (ulong)(i * shentsize), 64);
            sections.Add(sh.IsEmpty ? default : new Section(BinaryPrimitives.ReadUInt32LittleEndian(sh[4..]), BinaryPrimitives.ReadUInt64LittleEndian(sh[24..]),
                BinaryPrimitives.ReadUInt64LittleEndian(sh[32..]), BinaryPrimitives.ReadUInt32LittleEndian(sh[40..]), BinaryPrimitives.ReadUInt64LittleEndian(sh[56..])));
        }
        return sections;
    }

    /// <summary>The name of symbol <paramref name="index"/> of symbol table <paramref name="table"/>, whose names are in <paramref name="strings"/>; null if out of range.</summary>
    private static string? SymbolName(ReadOnlySpan<byte> elf, Section table, Section strings, ulong index)
    {
        ReadOnlySpan<byte> sym = table.EntrySize >= 24 ? Slice(elf, table.Offset + index * table.EntrySize, 24) : default;
        ReadOnlySpan<byte> stringTable = Slice(elf, strings.Offset, strings.Size);
        if (sym.IsEmpty || stringTable.IsEmpty)
            return null;
        uint nameOffset = BinaryPrimitives.ReadUInt32LittleEndian(sym);
        if (nameOffset >= stringTable.Length)
            return null;
        ReadOnlySpan<byte> name = stringTable[(int)nameOffset..];
        int end = name.IndexOf((byte)0);
        return Encoding.ASCII.GetString(end < 0 ? name : name[..end]);
    }

    /// <summary>The program header table of an ELF64 little-endian file (empty if it is not inside the file).</summary>
    private static ReadOnlySpan<byte> ProgramHeaders(ReadOnlySpan<byte> elf, out int entrySize, out int count)
    {
        ulong phoff = BinaryPrimitives.ReadUInt64LittleEndian(elf[32..]);
        entrySize = BinaryPrimitives.ReadUInt16LittleEndian(elf[54..]);
        count = BinaryPrimitives.ReadUInt16LittleEndian(elf[56..]);
        return phoff < (ulong)elf.Length ? elf[(int)phoff..] : default;
    }

    /// <summary>
    /// The file offset at which to probe the function that every one of <paramref name="callers"/>
    /// (file offsets of functions, as <see cref="FindFunctions"/> gives them) calls first, when
    /// they agree and it begins with an instruction the kernel emulates (a push of a register,
    /// after any endbr64); else null. x86-64 only. The first direct call (e8) within a caller's
    /// first <see cref="CallWindow"/> bytes is taken; the bytes are not decoded as instructions,
    /// so the callers must agree: a stray e8 inside another instruction would give each caller a
    /// different target. OpenSSL's SSL_read and SSL_read_ex both call ssl_read_internal first, as
    /// SSL_write and SSL_write_ex call ssl_write_internal; Debian's public functions begin with
    /// `sub $0x18,%rsp`, which the kernel single-steps (about 9 µs a call in this VM), and the
    /// internal ones with a push (benchmarks/uprobe_cost).
    /// </summary>
    public static ulong? SharedFirstCallee(string path, IReadOnlyList<ulong> callers)
    {
        using SafeFileHandle file = File.OpenHandle(path);
        List<(ulong Start, ulong End)> code = ExecutableFileRanges(file);
        ulong? shared = null;
        foreach (ulong caller in callers)
        {
            (ulong Start, ulong End) range = code.Find(r => caller >= r.Start && caller < r.End);
            if (range.End == 0)
                return null;
            byte[] window = Read(file, caller, CallWindow);
            int call = FirstCall(window);
            if (call < 0)
                return null;
            long target = (long)caller + call + 5 + BinaryPrimitives.ReadInt32LittleEndian(window.AsSpan(call + 1));
            if (target < (long)range.Start || target >= (long)range.End || (shared is { } other && other != (ulong)target))
                return null;
            shared = (ulong)target;
        }
        if (shared is not ulong entry || callers.Any(c => c >= entry && c <= entry + 4))
            return null; // one of the callers itself (at its entry or past its endbr64)
        byte[] head = Read(file, entry, 6);
        if (head.AsSpan().StartsWith(Endbr64))
        {
            entry += 4;
            head = head[4..];
        }
        return IsPushOfRegister(head) ? entry : null;
    }

    /// <summary>
    /// Whether the function at file offset <paramref name="offset"/> (x86-64) puts an address on its
    /// stack in <paramref name="register"/> before its first direct call: <c>mov %rsp,reg</c>, or
    /// <c>lea N(%rsp),reg</c>. SSL_read and SSL_write pass their internal function a pointer to a
    /// local for the byte count so: in rcx, the fourth argument, or in r8, the fifth, where OpenSSL
    /// 3.3's ssl_write_internal takes flags fourth.
    /// </summary>
    public static bool PassesStackAddressBeforeFirstCall(string path, ulong offset, CountRegister register)
    {
        using SafeFileHandle file = File.OpenHandle(path);
        if (ExecutableFileRanges(file).Count == 0)
            return false;
        ReadOnlySpan<byte> window = Read(file, offset, CallWindow);
        int call = FirstCall(window);
        if (call < 0)
            return false;
        ReadOnlySpan<byte> before = window[..call];
        return register == CountRegister.Rcx
            ? before.IndexOf(MovRspToRcx) >= 0 || before.IndexOf(LeaRspToRcx) >= 0 || before.IndexOf(LeaRspDisp8ToRcx) >= 0
            : before.IndexOf(MovRspToR8) >= 0 || before.IndexOf(LeaRspToR8) >= 0 || before.IndexOf(LeaRspDisp8ToR8) >= 0;
    }

    private static ReadOnlySpan<byte> MovRspToRcx => [0x48, 0x89, 0xe1]; // mov %rsp,%rcx
    private static ReadOnlySpan<byte> LeaRspToRcx => [0x48, 0x8d, 0x0c, 0x24]; // lea (%rsp),%rcx
    private static ReadOnlySpan<byte> LeaRspDisp8ToRcx => [0x48, 0x8d, 0x4c, 0x24]; // lea disp8(%rsp),%rcx
    private static ReadOnlySpan<byte> MovRspToR8 => [0x49, 0x89, 0xe0]; // mov %rsp,%r8
    private static ReadOnlySpan<byte> LeaRspToR8 => [0x4c, 0x8d, 0x04, 0x24]; // lea (%rsp),%r8
    private static ReadOnlySpan<byte> LeaRspDisp8ToR8 => [0x4c, 0x8d, 0x44, 0x24]; // lea disp8(%rsp),%r8

    /// <summary>
    /// Whether the function at file offset <paramref name="offset"/> (x86-64, past any endbr64)
    /// is <c>mov %rcx,%r8; xor %ecx,%ecx</c> (its fourth argument passed fifth, 0 fourth) and a
    /// jump to function <paramref name="target"/> (whose probe offset is <paramref name="targetOffset"/>):
    /// directly, or through a PLT entry or GOT slot that the dynamic relocations bind to that name.
    /// OpenSSL 3.3 on defines SSL_write_ex so (<c>jmp SSL_write_ex2@plt</c>), and its calls reach
    /// whatever SSL_write_ex2's are probed at.
    /// </summary>
    public static bool TailJumpsTo(string path, ulong offset, string target, ulong targetOffset)
    {
        byte[] file = File.ReadAllBytes(path);
        ReadOnlySpan<byte> elf = file;
        if (!IsElf64X8664(elf))
            return false;
        var segments = ExecutableSegments(ProgramHeaders(elf, out int entrySize, out int count), entrySize, count);
        ReadOnlySpan<byte> head = Slice(elf, offset, 5);
        if (head.Length < 5 || !(head[..3].SequenceEqual(MovRcxToR8) || head[..3].SequenceEqual(MovRcxToR8Load)) ||
            !(head[3..].SequenceEqual(XorEcx) || head[3..].SequenceEqual(XorEcxLoad)))
            return false;
        ulong at = offset + 5;
        ReadOnlySpan<byte> jump = Slice(elf, at, 7);
        ulong destination;
        if (jump.Length == 7 && jump[0] == 0xe9)
            destination = at + 5 + (ulong)(long)BinaryPrimitives.ReadInt32LittleEndian(jump[1..]);
        else if (jump.Length == 7 && jump[0] == 0xeb)
            destination = at + 2 + (ulong)(long)(sbyte)jump[1];
        else
            return GotSlotAt(elf, segments, at) is ulong slot && RelocatedName(elf, slot) == target; // jmp *slot(%rip)
        if (destination == targetOffset || (destination + 4 == targetOffset && Slice(elf, destination, 4).SequenceEqual(Endbr64)))
            return true;
        if (Slice(elf, destination, 4).SequenceEqual(Endbr64))
            destination += 4; // a PLT entry built for CET (.plt.sec)
        return GotSlotAt(elf, segments, destination) is ulong entrySlot && RelocatedName(elf, entrySlot) == target;
    }

    // SSL_write_ex's count pointer moved to the fifth argument, then flags 0 in the fourth
    private static ReadOnlySpan<byte> MovRcxToR8 => [0x49, 0x89, 0xc8]; // mov %rcx,%r8
    private static ReadOnlySpan<byte> MovRcxToR8Load => [0x4c, 0x8b, 0xc1]; // the same, the other encoding
    private static ReadOnlySpan<byte> XorEcx => [0x31, 0xc9]; // xor %ecx,%ecx
    private static ReadOnlySpan<byte> XorEcxLoad => [0x33, 0xc9]; // the same, the other encoding

    /// <summary>The address of the GOT slot that an indirect jump (<c>jmp *disp(%rip)</c>, perhaps with a bnd prefix) at file offset <paramref name="at"/> goes through, or null.</summary>
    private static ulong? GotSlotAt(ReadOnlySpan<byte> elf, List<(ulong VirtualAddress, ulong MemorySize, ulong Offset, ulong FileSize)> segments, ulong at)
    {
        ReadOnlySpan<byte> code = Slice(elf, at, 7);
        int prefix = code.Length == 7 && code[0] == 0xf2 ? 1 : 0;
        if (code.Length < 7 || code[prefix] != 0xff || code[prefix + 1] != 0x25)
            return null;
        ulong next = at + (ulong)prefix + 6;
        foreach ((ulong vaddr, _, ulong segmentOffset, ulong fileSize) in segments)
        {
            if (at >= segmentOffset && next <= segmentOffset + fileSize)
                return next - segmentOffset + vaddr + (ulong)(long)BinaryPrimitives.ReadInt32LittleEndian(code[(prefix + 2)..]);
        }
        return null;
    }

    /// <summary>The name of the symbol that a dynamic relocation (R_X86_64_JUMP_SLOT or GLOB_DAT) binds the GOT slot at address <paramref name="slot"/> to, or null.</summary>
    private static string? RelocatedName(ReadOnlySpan<byte> elf, ulong slot)
    {
        List<Section> sections = Sections(elf);
        foreach (Section rela in sections)
        {
            if (rela.Type != SectionRelocations || rela.EntrySize < 24 || rela.Link >= (uint)sections.Count || rela.EntrySize > rela.Size ||
                Slice(elf, rela.Offset, rela.Size).IsEmpty)
                continue;
            Section symbols = sections[(int)rela.Link];
            for (ulong at = 0; at + 24 <= rela.Size; at += rela.EntrySize)
            {
                ReadOnlySpan<byte> entry = Slice(elf, rela.Offset + at, 24);
                if (entry.IsEmpty)
                    break;
                ulong info = BinaryPrimitives.ReadUInt64LittleEndian(entry[8..]);
                if (BinaryPrimitives.ReadUInt64LittleEndian(entry) != slot || (uint)info is not (RelocationJumpSlot or RelocationGlobalData))
                    continue;
                return symbols.Link < (uint)sections.Count ? SymbolName(elf, symbols, sections[(int)symbols.Link], info >> 32) : null;
            }
        }
        return null;
    }

    /// <summary>Whether the instruction at file offset <paramref name="offset"/> of an x86-64 file is a push of a register, which the kernel emulates when probed.</summary>
    public static bool StartsWithPush(string path, ulong offset)
    {
        using SafeFileHandle file = File.OpenHandle(path);
        return ExecutableFileRanges(file).Count > 0 && IsPushOfRegister(Read(file, offset, 2));
    }

    /// <summary>Bytes searched for a function's first call.</summary>
    internal const int CallWindow = 48;

    /// <summary>Where in <paramref name="window"/> (a function's first bytes) the first direct call (e8 and its rel32) is, or -1.</summary>
    private static int FirstCall(ReadOnlySpan<byte> window)
    {
        int call = window.IndexOf((byte)0xe8);
        return call >= 0 && call + 5 <= window.Length ? call : -1;
    }

    /// <summary>Whether <paramref name="header"/> begins a 64-bit little-endian ELF file.</summary>
    private static bool IsElf64LittleEndian(ReadOnlySpan<byte> header) =>
        header.Length >= 64 && header[..4].SequenceEqual("\u007fELF"u8) && header[4] == 2 && header[5] == 1;

    /// <summary>Whether <paramref name="header"/> begins a 64-bit little-endian ELF file for x86-64.</summary>
    private static bool IsElf64X8664(ReadOnlySpan<byte> header) =>
        IsElf64LittleEndian(header) && BinaryPrimitives.ReadUInt16LittleEndian(header[18..]) == MachineX8664;

    /// <summary>The executable PT_LOAD segments among a program header table's <paramref name="count"/> entries of <paramref name="entrySize"/> bytes (those <paramref name="table"/> holds).</summary>
    private static List<(ulong VirtualAddress, ulong MemorySize, ulong Offset, ulong FileSize)> ExecutableSegments(ReadOnlySpan<byte> table, int entrySize, int count)
    {
        var segments = new List<(ulong, ulong, ulong, ulong)>();
        for (int i = 0; i < count; i++)
        {
            long at = (long)i * entrySize;
            if (at + 56 > table.Length)
                continue;
            ReadOnlySpan<byte> ph = table.Slice((int)at, 56);
            if (BinaryPrimitives.ReadUInt32LittleEndian(ph) != SegmentLoad || (BinaryPrimitives.ReadUInt32LittleEndian(ph[4..]) & 1) == 0)
                continue;
            segments.Add((BinaryPrimitives.ReadUInt64LittleEndian(ph[16..]), BinaryPrimitives.ReadUInt64LittleEndian(ph[40..]),
                BinaryPrimitives.ReadUInt64LittleEndian(ph[8..]), BinaryPrimitives.ReadUInt64LittleEndian(ph[32..])));
        }
        return segments;
    }

    // push %rax..%rdi (50-57), push %r8..%r15 (41 50-57): what the kernel's push emulation takes
    private static bool IsPushOfRegister(ReadOnlySpan<byte> code) =>
        code.Length >= 1 && code[0] is >= 0x50 and <= 0x57 || code.Length >= 2 && code[0] == 0x41 && code[1] is >= 0x50 and <= 0x57;

    /// <summary>File ranges of the executable PT_LOAD segments of an x86-64 ELF64 little-endian file (none for any other file).</summary>
    private static List<(ulong Start, ulong End)> ExecutableFileRanges(SafeFileHandle file)
    {
        byte[] header = Read(file, 0, 64);
        if (!IsElf64X8664(header))
            return [];
        ulong phoff = BinaryPrimitives.ReadUInt64LittleEndian(header.AsSpan(32));
        int phentsize = BinaryPrimitives.ReadUInt16LittleEndian(header.AsSpan(54));
        int phnum = BinaryPrimitives.ReadUInt16LittleEndian(header.AsSpan(56));
        if (phentsize < 56)
            return [];
        return [.. ExecutableSegments(Read(file, phoff, phentsize * phnum), phentsize, phnum).Select(s => (s.Offset, s.Offset + s.FileSize))];
    }

    private static byte[] Read(SafeFileHandle file, ulong offset, int count)
    {
        byte[] buffer = new byte[count];
        int read = RandomAccess.Read(file, buffer, (long)offset);
        return read == count ? buffer : buffer[..read];
    }

    // offset and length come from the file: their sum may wrap
    private static ReadOnlySpan<byte> Slice(ReadOnlySpan<byte> data, ulong offset, ulong length) =>
        offset <= (ulong)data.Length && length <= (ulong)data.Length - offset ? data.Slice((int)offset, (int)length) : default;
}
