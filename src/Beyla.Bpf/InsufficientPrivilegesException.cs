namespace Beyla;

/// <summary>The process lacks the privileges to load and attach BPF programs.</summary>
public sealed class InsufficientPrivilegesException : BeylaException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="missingCapabilities">The capabilities that are missing, for example <c>CAP_BPF</c>.</param>
    /// <param name="message">What is missing and how to get it.</param>
    public InsufficientPrivilegesException(IReadOnlyList<string> missingCapabilities, string message)
        : base(message)
    {
        MissingCapabilities = missingCapabilities;
    }

    /// <summary>The capabilities that are missing.</summary>
    public IReadOnlyList<string> MissingCapabilities { get; }
}
