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
}
