using System.Diagnostics;

namespace Beyla.Tests.Support;

/// <summary>Runs Prometheus's <c>promtool</c> (shared by the unit and the kernel test projects).</summary>
internal static class Promtool
{
    public static string? Path { get; } = Find();

    private static string? Find()
    {
        foreach (string dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries).Append("/usr/bin"))
        {
            string candidate = System.IO.Path.Combine(dir, "promtool");
            if (File.Exists(candidate))
                return candidate;
        }
        return null;
    }

    /// <summary>Runs promtool with <paramref name="stdin"/> as its input; returns its exit code and its stdout and stderr together.</summary>
    public static (int Exit, string Output) Run(string stdin, params string[] arguments)
    {
        string path = Path ?? throw new InvalidOperationException("promtool is not installed: run scripts/setup.sh (the prometheus package)");
        var info = new ProcessStartInfo(path)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string a in arguments)
            info.ArgumentList.Add(a);
        using Process process = Process.Start(info) ?? throw new InvalidOperationException("could not start promtool");
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        try
        {
            process.StandardInput.Write(stdin);
            process.StandardInput.Close();
        }
        catch (IOException)
        {
            // promtool stopped reading at a parse error: its exit code says so.
        }
        if (!process.WaitForExit(60_000))
        {
            process.Kill();
            throw new TimeoutException("promtool did not finish in 60 s");
        }
        return (process.ExitCode, stdout.Result + stderr.Result);
    }
}
