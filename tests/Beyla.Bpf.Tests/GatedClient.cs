using System.Diagnostics;

namespace Beyla.Bpf.Tests;

/// <summary>
/// A client script started before tracing: it prints "ready", waits for a line on stdin, then
/// does its requests and prints what it measured. So a test can select its pid, build the
/// tracer, and only then let it go. Ended by pid on dispose if still running.
/// </summary>
internal sealed class GatedClient : IDisposable
{
    private readonly Process _process;

    private GatedClient(Process process) => _process = process;

    public int Pid => _process.Id;

    /// <summary>Starts the script (in tests/servers) and waits for its "ready" line.</summary>
    public static Task<GatedClient> StartAsync(string interpreter, string script, params string[] arguments) =>
        StartProgramAsync(interpreter, [Path.Combine(TestEnvironment.ServersDirectory, script), .. arguments]);

    /// <summary>Starts a program and waits for its "ready" line.</summary>
    public static async Task<GatedClient> StartProgramAsync(string fileName, params string[] arguments)
    {
        var info = new ProcessStartInfo(fileName) { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in arguments)
            info.ArgumentList.Add(a);
        var client = new GatedClient(Process.Start(info)!);
        try
        {
            Assert.Equal("ready", await client._process.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(30)));
            return client;
        }
        catch
        {
            client.Dispose();
            throw;
        }
    }

    /// <summary>Lets the client go as far as the next line it prints, which must be <paramref name="line"/>: it then waits for another go.</summary>
    public async Task GoUntilAsync(string line)
    {
        await _process.StandardInput.WriteLineAsync("go");
        await _process.StandardInput.FlushAsync();
        Assert.Equal(line, await _process.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(30)));
    }

    /// <summary>Lets the client go, waits for it to exit successfully, and returns its output lines.</summary>
    public async Task<string[]> RunAsync()
    {
        await _process.StandardInput.WriteLineAsync("go");
        _process.StandardInput.Close();
        Task<string> errors = _process.StandardError.ReadToEndAsync();
        string output = await _process.StandardOutput.ReadToEndAsync().WaitAsync(TimeSpan.FromSeconds(60));
        await _process.WaitForExitAsync();
        Assert.True(_process.ExitCode == 0, await errors);
        return output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
    }

    public void Dispose()
    {
        if (!_process.HasExited)
            _process.Kill();
        _process.Dispose();
    }
}
