using System.Diagnostics;

namespace Beyla.Bpf.Tests;

/// <summary>Runs a build of a test program (a compiler), and fails with its errors when it fails.</summary>
internal static class BuildCommand
{
    public static void Run(ProcessStartInfo info, string what)
    {
        info.RedirectStandardOutput = true;
        info.RedirectStandardError = true;
        info.UseShellExecute = false;
        using Process build = Process.Start(info) ?? throw new InvalidOperationException($"{what} did not start");
        Task<string> errors = build.StandardError.ReadToEndAsync();
        build.StandardOutput.ReadToEnd();
        if (!build.WaitForExit(TimeSpan.FromMinutes(3)))
        {
            build.Kill();
            throw new TimeoutException($"{what} took more than 3 minutes");
        }
        if (build.ExitCode != 0)
            throw new InvalidOperationException($"{what} failed ({build.ExitCode}): {errors.Result}");
    }
}
