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
