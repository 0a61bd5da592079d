using Beyla.Implementation;
using Beyla.Tests.Support;

namespace Beyla.Tests;

public sealed class ServiceNameTests
{
    [Fact]
    public void DefaultIsTheProcessCommandName()
    {
        string comm = File.ReadAllText($"/proc/{Environment.ProcessId}/comm").TrimEnd('\n');
        Assert.Equal(comm, new ServiceNames(null).Get(Environment.ProcessId));
    }

    private static byte[] Comm(string name)
    {
        byte[] comm = new byte[16];
        System.Text.Encoding.ASCII.GetBytes(name).CopyTo(comm, 0);
        return comm;
    }

    [Fact]
    public void TheKernelsCommandNameNamesAProcessThatHasGone()
    {
        var names = new ServiceNames(null);
        Assert.Equal("worker", names.Get(int.MaxValue, Comm("worker")));
        Assert.Equal("abcdefghijklmno", names.Get(int.MaxValue - 1, Comm("abcdefghijklmno")));
        // The same pid with another command name (a reused pid, or a process that renamed itself) is named anew.
        Assert.Equal("other", names.Get(int.MaxValue, Comm("other")));
        Assert.Equal("worker", names.Get(int.MaxValue, Comm("worker")));
        // No command name from the kernel: /proc, as before.
        Assert.Equal(ServiceNames.Unknown, names.Get(int.MaxValue - 2, new byte[16]));
    }

    [Fact]
    public void TheUsersResolverComesBeforeTheKernelsCommandName()
    {
        var names = new ServiceNames(pid => pid == 7 ? "checkout" : null);
        Assert.Equal("checkout", names.Get(7, Comm("python3")));
        Assert.Equal("python3", names.Get(8, Comm("python3")));
    }

    [Fact]
    public void UnknownPidAndFailingResolverFallBack()
    {
        Assert.Equal(ServiceNames.Unknown, new ServiceNames(null).Get(int.MaxValue));
        var names = new ServiceNames(_ => throw new InvalidOperationException("boom"));
        Assert.Equal(ServiceNames.Unknown, names.Get(int.MaxValue));
        Assert.Equal(ServiceNames.Unknown, new ServiceNames(_ => null).Get(int.MaxValue));
    }

    [Fact]
    public async Task ResolverNamesSpansAndIsCachedPerPid()
    {
        int calls = 0;
        var source = new FakeEventSource();
        var sink = new CollectingSink();
        await using BeylaTracer tracer = new BeylaBuilder().WithEventSource(source).AddSink(sink)
            .Configure(o => o.ServiceNameResolver = pid =>
            {
                Interlocked.Increment(ref calls);
                return pid == 100 ? "checkout" : null;
            })
            .Build();
        for (int i = 0; i < 50; i++)
            source.Add(new HttpSpan { Method = "GET", Path = "/a", StatusCode = 200, ProcessId = 100 });
        source.Add(new HttpSpan { Method = "GET", Path = "/a", StatusCode = 200, ProcessId = int.MaxValue });
        source.Complete();
        await tracer.Completion.WaitAsync(TestTimeouts.Default);

        Assert.Equal(51, sink.Spans.Count);
        Assert.All(sink.Spans.Take(50), s => Assert.Equal("checkout", s.ServiceName));
        Assert.Equal(ServiceNames.Unknown, sink.Spans[50].ServiceName);
        Assert.Equal(2, calls);
    }
}
