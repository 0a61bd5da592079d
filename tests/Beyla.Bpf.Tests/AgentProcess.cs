using System.Diagnostics;

namespace Beyla.Bpf.Tests;

/// <summary>The sample agent, run from its built dll (optionally under a wrapper such as setpriv), its output collected line by line.</summary>
internal sealed class AgentProcess : IDisposable
{
    private readonly Process _process;
    private readonly List<string> _stdout = [];
    private readonly List<string> _stderr = [];
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public AgentProcess(params string[] args)
        : this([], args)
    {
    }

    public AgentProcess(string[] wrapper, params string[] args)
    {
        string[] command = [.. wrapper, "dotnet", TestEnvironment.AgentDll, .. args];
        var info = new ProcessStartInfo(command[0]) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in command.Skip(1))
            info.ArgumentList.Add(a);
        info.Environment["DOTNET_CLI_HOME"] = Path.GetTempPath();
        info.Environment["HOME"] = Path.GetTempPath();
        // The exporter's endpoints come from the command line only.
        foreach (string name in info.Environment.Keys.Where(k => k.StartsWith("OTEL_", StringComparison.Ordinal)).ToList())
            info.Environment.Remove(name);
        _process = Process.Start(info)!;
        _process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is not null)
                lock (_stdout)
                    _stdout.Add(e.Data);
        };
        _process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null)
                return;
            lock (_stderr)
                _stderr.Add(e.Data);
            if (e.Data.StartsWith("ready", StringComparison.Ordinal))
                _ready.TrySetResult();
        };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public bool HasExited => _process.HasExited;

    /// <summary>Waits for the ready line; fails at once, with what the agent said, if it exits first.</summary>
    public async Task WaitForReadyAsync()
    {
        Task exited = _process.WaitForExitAsync();
        await Task.WhenAny(_ready.Task, exited).WaitAsync(TimeSpan.FromSeconds(60));
        if (!_ready.Task.IsCompleted)
        {
            _process.WaitForExit();
            lock (_stderr)
                Assert.Fail($"the agent exited with {_process.ExitCode} before it was ready: {string.Join(" | ", _stderr)}");
        }
    }

    /// <summary>SIGKILL: no dispose, no cleanup code runs in the agent.</summary>
    public void Kill() => _process.Kill();

    public async Task<(int ExitCode, List<string> Stdout, List<string> Stderr)> WaitForExitAsync()
    {
        await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
        _process.WaitForExit(); // flushes the output events
        lock (_stdout)
            lock (_stderr)
                return (_process.ExitCode, [.. _stdout], [.. _stderr]);
    }

    public void Dispose()
    {
        if (!_process.HasExited)
            _process.Kill();
        _process.Dispose();
    }
}
