namespace Beyla;

/// <summary>
/// The machine lacks something the kernel probes need (kernel BTF, libbpf, tracefs);
/// <see cref="Requirement"/> says which, and the message says what was found and what to do.
/// </summary>
public sealed class MissingRequirementException : BeylaException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="requirement">What is missing.</param>
    /// <param name="message">What is missing, what was found instead, and how to get it.</param>
    public MissingRequirementException(EnvironmentRequirement requirement, string message)
        : base(message)
    {
        Requirement = requirement;
    }

    /// <summary>What is missing.</summary>
    public EnvironmentRequirement Requirement { get; }
}
