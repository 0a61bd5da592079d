namespace Beyla.Hosting;

/// <summary>How the hosted tracer behaves when it starts and stops.</summary>
public sealed class BeylaHostingOptions
{
    /// <summary>
    /// Fail the host's start when the tracer cannot start (no privileges, no BTF, ...).
    /// Default false: the failure is logged once, the app runs untraced, and
    /// <see cref="BeylaHostedService.StartFailure"/> says why.
    /// </summary>
    public bool FailHostOnStartError { get; set; }
}
