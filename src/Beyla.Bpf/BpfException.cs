using Beyla.Interop;

namespace Beyla;

/// <summary>A call into the kernel's BPF facilities failed; <see cref="Errno"/> says why.</summary>
public sealed class BpfException : BeylaException
{
    /// <summary>Creates an exception for a failed operation.</summary>
    /// <param name="operation">What was attempted.</param>
    /// <param name="errno">The error number.</param>
    /// <param name="message">The full message.</param>
    public BpfException(string operation, int errno, string message)
        : base(message)
    {
        Operation = operation;
        Errno = errno;
    }

    /// <summary>What was attempted, for example <c>load the socket probe set</c>.</summary>
    public string Operation { get; } = "";

    /// <summary>The Linux error number.</summary>
    public int Errno { get; }

    internal static BpfException FromErrno(string operation, int errno, string? detail = null)
    {
        string text = errno == 0 ? "unknown error" : LibC.ErrorText(errno);
        // Without a log, EPERM/EACCES means privileges; with one, the verifier said no.
        string hint = (errno is 1 or 13) && string.IsNullOrWhiteSpace(detail) ? " (needs root, or CAP_BPF and CAP_PERFMON)" : "";
        string message = $"Could not {operation}: {text} (errno {errno}){hint}";
        if (!string.IsNullOrWhiteSpace(detail))
            message += Environment.NewLine + detail.Trim();
        return new BpfException(operation, errno, message);
    }
}
