namespace Beyla;

/// <summary>
/// Which processes to trace: a union of criteria. With no criterion, or after
/// <see cref="All"/>, every process on the machine is traced. A process that a selected
/// process forks is traced too, from its first instruction, until it exits or executes
/// another program (a forking server's workers are traced; a <c>curl</c> it runs is not,
/// unless selected itself).
/// </summary>
public sealed class ProcessSelector
{
    private readonly HashSet<int> _pids = [];
    private readonly HashSet<int> _ports = [];
    private readonly HashSet<string> _executables = new(StringComparer.Ordinal);

    /// <summary>Whether every process is traced.</summary>
    public bool IsAll => _all || (_pids.Count == 0 && _ports.Count == 0 && _executables.Count == 0);

    private bool _all;

    /// <summary>Process ids selected by <see cref="ProcessId"/> and <see cref="Current"/>.</summary>
    public IReadOnlyCollection<int> ProcessIds => _pids;

    /// <summary>TCP ports selected by <see cref="ListeningOn"/>.</summary>
    public IReadOnlyCollection<int> Ports => _ports;

    /// <summary>Executable names selected by <see cref="ExecutableName"/>.</summary>
    public IReadOnlyCollection<string> ExecutableNames => _executables;

    /// <summary>Traces the process with this id.</summary>
    /// <param name="pid">A process id (the thread-group id on Linux).</param>
    /// <returns>This selector.</returns>
    public ProcessSelector ProcessId(int pid)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(pid);
        _pids.Add(pid);
        return this;
    }

    /// <summary>Traces the process that hosts the tracer.</summary>
    /// <returns>This selector.</returns>
    public ProcessSelector Current() => ProcessId(Environment.ProcessId);

    /// <summary>Traces every process that has a TCP socket listening on <paramref name="port"/>, now or later.</summary>
    /// <param name="port">A TCP port, 1 to 65535.</param>
    /// <returns>This selector.</returns>
    public ProcessSelector ListeningOn(int port)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(port, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(port, 65535);
        _ports.Add(port);
        return this;
    }

    /// <summary>
    /// Traces every process whose executable file name (or, for an interpreter's script,
    /// its command name) equals <paramref name="name"/>, now or later.
    /// </summary>
    /// <param name="name">A file name without directory, for example <c>nginx</c>.</param>
    /// <returns>This selector.</returns>
    public ProcessSelector ExecutableName(string name)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        if (name.Contains('/', StringComparison.Ordinal))
            throw new ArgumentException("give the file name without a directory", nameof(name));
        _executables.Add(name);
        return this;
    }

    /// <summary>Traces every process on the machine.</summary>
    /// <returns>This selector.</returns>
    public ProcessSelector All()
    {
        _all = true;
        return this;
    }
}
