using System.Net;
using System.Net.Sockets;
using Beyla.Implementation;

namespace Beyla.Bpf.Tests;

/// <summary>Finding the processes that listen on a selected port: the kernel's answer, and a fake /proc.</summary>
public sealed class ProcessDiscoveryTests : IDisposable
{
    private readonly string _proc = Directory.CreateTempSubdirectory("beyla-proc-").FullName;

    public void Dispose() => Directory.Delete(_proc, recursive: true);

    [Fact]
    public void TheKernelListsTheListenersOfAPortAndNotTheirConnections()
    {
        using var v4 = new TcpListener(IPAddress.Loopback, 0);
        v4.Start();
        int port = ((IPEndPoint)v4.LocalEndpoint).Port;
        using var v6 = new TcpListener(IPAddress.IPv6Loopback, port);
        v6.Start();
        using var client = new TcpClient();
        client.Connect(IPAddress.Loopback, port);
        using TcpClient accepted = v4.AcceptTcpClient(); // an established socket with the same local port

        var fromKernel = new HashSet<long>();
        Assert.True(ListeningSockets.TryAskKernel([port], fromKernel), "NETLINK_SOCK_DIAG dump failed");
        var fromProc = new HashSet<long>();
        ListeningSockets.ReadProcTables([port], "/proc", fromProc);

        Assert.Equal(2, fromKernel.Count);
        Assert.Equal(fromProc.Order(), fromKernel.Order());
        Assert.Equal(fromKernel.Order(), ListeningSockets.Find([port]).Order());
        Assert.All(fromKernel, inode => Assert.Contains($"socket:[{inode}]", OwnSocketLinks()));
        Assert.DoesNotContain(SocketInode(accepted.Client), fromKernel);
    }

    [Fact]
    public void APortNobodyListensOnHasNoListeners()
    {
        int port = FreePort.Next();
        var inodes = new HashSet<long>();
        Assert.True(ListeningSockets.TryAskKernel([port], inodes));
        Assert.Empty(inodes);
    }

    [Fact]
    public void OpenFilesAreListedAgainOnlyForNewProcessesNewListenersAndEveryTenthCall()
    {
        WriteTcpTable((8080, 555));
        FakeProcess(100, "socket:[555]", "/dev/null");
        FakeProcess(101, "socket:[777]");
        var discovery = new ProcessDiscovery(new ProcessSelector().ListeningOn(8080), _proc);

        Assert.Equal([100], discovery.Resolve());
        Assert.Equal(2, discovery.ProcessesWalked);

        Assert.Equal([100], discovery.Resolve());
        Assert.Equal(0, discovery.ProcessesWalked);

        FakeProcess(102, "socket:[555]"); // a new worker sharing the listener
        Assert.Equal([100, 102], discovery.Resolve().Order());
        Assert.Equal(1, discovery.ProcessesWalked);

        WriteTcpTable((8080, 555), (8080, 777)); // 101 starts listening too
        Assert.Equal([100, 101, 102], discovery.Resolve().Order());
        Assert.Equal(3, discovery.ProcessesWalked);

        Directory.Delete(Path.Combine(_proc, "100"), recursive: true); // a holder gone: all looked at again
        Assert.Equal([101, 102], discovery.Resolve().Order());
        Assert.Equal(2, discovery.ProcessesWalked);
        for (int call = 1; call <= ProcessDiscovery.FullWalkEvery; call++)
        {
            Assert.Equal([101, 102], discovery.Resolve().Order());
            Assert.Equal(call == ProcessDiscovery.FullWalkEvery ? 2 : 0, discovery.ProcessesWalked);
        }
    }

    [Fact]
    public void WhenAHolderOfAListenerIsGoneEveryProcessIsLookedAtAgain()
    {
        WriteTcpTable((8080, 555));
        FakeProcess(100, "socket:[555]");
        FakeProcess(101, "pipe:[1]");
        var discovery = new ProcessDiscovery(new ProcessSelector().ListeningOn(8080), _proc);
        Assert.Equal([100], discovery.Resolve());

        // 101 is given the listening socket by 100, which then exits (a restart that hands it on)
        File.Delete(Path.Combine(_proc, "101", "fd", "3"));
        File.CreateSymbolicLink(Path.Combine(_proc, "101", "fd", "3"), "socket:[555]");
        Directory.Delete(Path.Combine(_proc, "100"), recursive: true);
        Assert.Equal([101], discovery.Resolve());
        Assert.Equal(1, discovery.ProcessesWalked);
    }

    [Fact]
    public void AProcessSelectedByNameThatStopsMatchingIsLookedAtForSockets()
    {
        WriteTcpTable((8080, 555));
        FakeProcess(100, "socket:[555]");
        File.WriteAllText(Path.Combine(_proc, "100", "comm"), "wrapper\n");
        var discovery = new ProcessDiscovery(new ProcessSelector().ListeningOn(8080).ExecutableName("wrapper"), _proc);
        Assert.Equal([100], discovery.Resolve());
        Assert.Equal(0, discovery.ProcessesWalked);

        File.WriteAllText(Path.Combine(_proc, "100", "comm"), "server\n"); // exec'd into the server
        Assert.Equal([100], discovery.Resolve());
        Assert.Equal(1, discovery.ProcessesWalked);
    }

    private void WriteTcpTable(params (int Port, long Inode)[] listeners)
    {
        Directory.CreateDirectory(Path.Combine(_proc, "net"));
        var lines = new List<string> { "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode" };
        foreach ((int port, long inode) in listeners)
            lines.Add($"   0: 0100007F:{port:X4} 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 {inode} 1 0000000000000000 100 0 0 10 0");
        File.WriteAllLines(Path.Combine(_proc, "net", "tcp"), lines);
    }

    private void FakeProcess(int pid, params string[] fdTargets)
    {
        string fd = Path.Combine(_proc, pid.ToString(System.Globalization.CultureInfo.InvariantCulture), "fd");
        Directory.CreateDirectory(fd);
        File.WriteAllText(Path.Combine(_proc, pid.ToString(System.Globalization.CultureInfo.InvariantCulture), "comm"), $"p{pid}\n");
        for (int i = 0; i < fdTargets.Length; i++)
            File.CreateSymbolicLink(Path.Combine(fd, (i + 3).ToString(System.Globalization.CultureInfo.InvariantCulture)), fdTargets[i]);
    }

    private static List<string> OwnSocketLinks() =>
        [.. Directory.EnumerateFileSystemEntries("/proc/self/fd").Select(f => new FileInfo(f).LinkTarget ?? "")];

    private static long SocketInode(Socket socket)
    {
        string target = new FileInfo($"/proc/self/fd/{socket.SafeHandle.DangerousGetHandle()}").LinkTarget!;
        return long.Parse(target.AsSpan(8, target.Length - 9), System.Globalization.CultureInfo.InvariantCulture);
    }
}
