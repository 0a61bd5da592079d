using System.Diagnostics;

namespace Beyla.Bpf.Tests;

/// <summary>A self-signed certificate for 127.0.0.1, made with openssl for one test class.</summary>
public sealed class TestCertificate : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("beyla-tls-").FullName;

    public TestCertificate()
    {
        CertificatePath = Path.Combine(_dir, "cert.pem");
        KeyPath = Path.Combine(_dir, "key.pem");
        var info = new ProcessStartInfo("openssl") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (string a in new[] { "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                     "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", KeyPath, "-out", CertificatePath })
            info.ArgumentList.Add(a);
        using Process p = Process.Start(info)!;
        string error = p.StandardError.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0)
            throw new InvalidOperationException("openssl could not make a certificate: " + error);
    }

    public string CertificatePath { get; }

    public string KeyPath { get; }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
