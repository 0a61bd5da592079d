using System.Buffers.Binary;
using Beyla.Implementation;

namespace Beyla.Bpf.Tests;

/// <summary>
/// Reading code shapes out of shared libraries that clang builds here: OpenSSL 3.3's SSL_write_ex,
/// which only moves its count pointer and jumps to SSL_write_ex2, reaches it however the linker
/// wrote the jump (TlsTests runs the traced calls through such a library).
/// </summary>
public sealed class ElfSymbolsTests
{
    private const string Target = """
        #include <stddef.h>
        int SSL_write_ex2(int *ssl, void *buf, size_t num, unsigned long flags, size_t *bytes) { return bytes != 0; }
        int SSL_write(int *ssl, void *buf, int num) { return num; }
        """;

    private static string WriteEx(string body) =>
        "__attribute__((naked)) int SSL_write_ex(int *ssl, void *buf, size_t num, size_t *bytes) { __asm__(\"" + body + "\"); }\n";

    [Theory]
    // through the PLT, as Debian 13's libssl 3.5 does
    [InlineData("mov %rcx,%r8\\n xor %ecx,%ecx\\n jmp SSL_write_ex2", "", "SSL_write_ex2")]
    // through a PLT built for CET (.plt.sec: endbr64, then the GOT's jump)
    [InlineData("mov %rcx,%r8\\n xor %ecx,%ecx\\n jmp SSL_write_ex2", "-fcf-protection=full -Wl,-z,ibtplt", "SSL_write_ex2")]
    // bound at link time: a direct jump
    [InlineData("mov %rcx,%r8\\n xor %ecx,%ecx\\n jmp SSL_write_ex2", "-Wl,-Bsymbolic", "SSL_write_ex2")]
    // through the GOT, as -fno-plt writes it
    [InlineData("mov %rcx,%r8\\n xor %ecx,%ecx\\n jmp *SSL_write_ex2@GOTPCREL(%rip)", "", "SSL_write_ex2")]
    // another function
    [InlineData("mov %rcx,%r8\\n xor %ecx,%ecx\\n jmp SSL_write", "", "SSL_write")]
    // anything else first
    [InlineData("mov %rcx,%r8\\n xor %ecx,%ecx\\n nop\\n jmp SSL_write_ex2", "", null)]
    [InlineData("xor %ecx,%ecx\\n mov %rcx,%r8\\n jmp SSL_write_ex2", "", null)]
    [InlineData("push %rbp\\n mov %rcx,%r8\\n xor %ecx,%ecx\\n pop %rbp\\n jmp SSL_write_ex2", "", null)]
    public void AFunctionThatOnlyPassesItsCountPointerOnIsSeenToJumpWhereItGoes(string body, string flags, string? jumpsTo)
    {
        using NativeShim library = NativeShim.Compile("libssl.so.3", Target + WriteEx(body), flags.Split(' ', StringSplitOptions.RemoveEmptyEntries));
        Dictionary<string, ulong> functions = ElfSymbols.FindFunctions(library.Path, ["SSL_write_ex", "SSL_write_ex2", "SSL_write"]);
        Assert.Equal(3, functions.Count);
        foreach (string target in new[] { "SSL_write_ex2", "SSL_write" })
            Assert.Equal(target == jumpsTo, ElfSymbols.TailJumpsTo(library.Path, functions["SSL_write_ex"], target, functions[target]));
        Assert.False(ElfSymbols.TailJumpsTo(library.Path, functions["SSL_write"], "SSL_write_ex2", functions["SSL_write_ex2"]));
    }

    /// <summary>A library whose section headers are nonsense, or which is cut short, yields what can be read and never throws (the TLS probe set's thread reads any libssl a traced process maps).</summary>
    [Theory]
    [InlineData("links")]
    [InlineData("sizes")]
    [InlineData("cut")]
    public void ABrokenFileGivesWhatCanBeReadAndThrowsNothing(string damage)
    {
        using NativeShim library = NativeShim.Compile("libssl.so.3", Target + WriteEx("mov %rcx,%r8\\n xor %ecx,%ecx\\n jmp SSL_write_ex2"));
        byte[] image = File.ReadAllBytes(library.Path);
        ulong shoff = BinaryPrimitives.ReadUInt64LittleEndian(image.AsSpan(40));
        int shentsize = BinaryPrimitives.ReadUInt16LittleEndian(image.AsSpan(58));
        int shnum = BinaryPrimitives.ReadUInt16LittleEndian(image.AsSpan(60));
        for (int i = 0; i < shnum && damage != "cut"; i++)
        {
            Span<byte> header = image.AsSpan((int)shoff + i * shentsize, 64);
            if (damage == "links")
                BinaryPrimitives.WriteUInt32LittleEndian(header[40..], 0xffffffff); // sh_link
            else
            {
                BinaryPrimitives.WriteUInt64LittleEndian(header[32..], ulong.MaxValue); // sh_size
                BinaryPrimitives.WriteUInt64LittleEndian(header[56..], ulong.MaxValue - 23); // sh_entsize
            }
        }
        string broken = Path.Combine(Path.GetDirectoryName(library.Path)!, "broken.so");
        File.WriteAllBytes(broken, damage == "cut" ? image[..(int)(shoff + (ulong)shentsize * 3)] : image);

        Dictionary<string, ulong> functions = ElfSymbols.FindFunctions(broken, ["SSL_write_ex", "SSL_write_ex2"]);
        Assert.Empty(functions); // no symbol table can be read
        Dictionary<string, ulong> good = ElfSymbols.FindFunctions(library.Path, ["SSL_write_ex", "SSL_write_ex2"]);
        Assert.False(ElfSymbols.TailJumpsTo(broken, good["SSL_write_ex"], "SSL_write_ex2", good["SSL_write_ex2"] + 0x10));
    }
}
