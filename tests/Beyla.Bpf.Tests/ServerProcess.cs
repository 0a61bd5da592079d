using System.Diagnostics;
using System.Net.Sockets;

namespace Beyla.Bpf.Tests;

/// <summary>A server the test started: waits until it accepts connections, and ends it (by pid) on dispose.</summary>
internal sealed class ServerProcess : IDisposable
{
    private readonly Process _process;

    private ServerProcess(Process process, int port)
    {
        _process = process;
        Port = port;
    }

    public int Pid => _process.Id;

    public int Port { get; }

    /// <summary>tests/servers/python_server.py on <paramref name="port"/>.</summary>
    public static ServerProcess StartPython(int port) =>
        Start("python3", [Path.Combine(TestEnvironment.ServersDirectory, "python_server.py"), port.ToString(System.Globalization.CultureInfo.InvariantCulture)], port);

    public static ServerProcess Start(string fileName, IEnumerable<string> arguments, int port, string? workingDirectory = null, IReadOnlyDictionary<string, string>? environment = null)
    {
        var info = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Environment.CurrentDirectory,
        };
        foreach (string a in arguments)
            info.ArgumentList.Add(a);
        foreach (KeyValuePair<string, string> variable in environment ?? new Dictionary<string, string>())
            info.Environment[variable.Key] = variable.Value;
        var process = Process.Start(info) ?? throw new InvalidOperationException("could not start " + fileName);
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var server = new ServerProcess(process, port);
        server.WaitUntilListening(TimeSpan.FromSeconds(60));
        return server;
    }

    private void WaitUntilListening(TimeSpan timeout)
    {
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < timeout)
        {
            if (_process.HasExited)
                throw new InvalidOperationException($"{_process.StartInfo.FileName} exited with {_process.ExitCode} before listening");
            try
            {
                using var probe = new TcpClient();
                probe.Connect("127.0.0.1", Port);
                return;
            }
            catch (SocketException)
            {
                Thread.Sleep(50);
            }
        }
        throw new TimeoutException($"{_process.StartInfo.FileName} did not listen on {Port} within {timeout}");
    }

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                _process.WaitForExit(10_000);
            }
        }
        catch (InvalidOperationException)
        {
        }
        _process.Dispose();
    }
}
