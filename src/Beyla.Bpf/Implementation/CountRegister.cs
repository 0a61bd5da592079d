namespace Beyla.Implementation;

/// <summary>Where an OpenSSL function takes the address of its byte count (x86-64 calling convention).</summary>
internal enum CountRegister
{
    /// <summary>rcx, the fourth argument: SSL_read_ex, SSL_write_ex, ssl_read_internal, ssl_write_internal before OpenSSL 3.3.</summary>
    Rcx,

    /// <summary>r8, the fifth: SSL_write_ex2 and ssl_write_internal from OpenSSL 3.3 on (flags fourth).</summary>
    R8,
}
