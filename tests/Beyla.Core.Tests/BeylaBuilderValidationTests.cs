using System.IO.Pipelines;
using Beyla.Tests.Support;

namespace Beyla.Tests;

public sealed class BeylaBuilderValidationTests
{
    [Fact]
    public void BuildWithoutAnEventSourceThrowsInvalidOperation()
    {
        Assert.Throws<InvalidOperationException>(() => new BeylaBuilder().AddSink(new CollectingSink()).Build());
    }

    public static TheoryData<string, Action<BeylaOptions>> BadOptions => new()
    {
        { nameof(BeylaOptions.RingBufferBytes), o => o.RingBufferBytes = 5000 },
        { nameof(BeylaOptions.RingBufferBytes), o => o.RingBufferBytes = (4 * 1024 * 1024) + 4096 },
        { nameof(BeylaOptions.RingBufferBytes), o => o.RingBufferBytes = 2048 },
        { nameof(BeylaOptions.RingBufferBytes), o => o.RingBufferBytes = 0 },
        { nameof(BeylaOptions.RingBufferBytes), o => o.RingBufferBytes = int.MinValue },
        { nameof(BeylaOptions.ConsumerBufferCapacity), o => o.ConsumerBufferCapacity = 0 },
        { nameof(BeylaOptions.ConsumerBufferCapacity), o => o.ConsumerBufferCapacity = -5 },
        { nameof(BeylaOptions.ProcessRescanInterval), o => o.ProcessRescanInterval = TimeSpan.Zero },
        { nameof(BeylaOptions.ProcessRescanInterval), o => o.ProcessRescanInterval = TimeSpan.FromSeconds(-1) },
        { nameof(BeylaOptions.MaxTrackedConnections), o => o.MaxTrackedConnections = 63 },
        { nameof(BeylaOptions.MaxTrackedConnections), o => o.MaxTrackedConnections = 0 },
    };

    [Theory]
    [MemberData(nameof(BadOptions))]
    public void BadOptionsThrowArgumentOutOfRangeNamingTheOption(string option, Action<BeylaOptions> configure)
    {
        int factoryCalls = 0;
        var builder = new BeylaBuilder()
            .WithEventSource(_ =>
            {
                factoryCalls++;
                return new FakeEventSource();
            })
            .Configure(configure);

        ArgumentOutOfRangeException ex = Assert.Throws<ArgumentOutOfRangeException>(() => builder.Build());

        Assert.Equal(option, ex.ParamName);
        Assert.Equal(0, factoryCalls); // nothing is started with settings that are wrong
    }

    [Fact]
    public async Task SmallestValidOptionsAreAccepted()
    {
        var source = new FakeEventSource();
        await using BeylaTracer tracer = new BeylaBuilder()
            .WithEventSource(source)
            .Configure(o =>
            {
                o.RingBufferBytes = 4096;
                o.ConsumerBufferCapacity = 1;
                o.ProcessRescanInterval = TimeSpan.FromTicks(1);
                o.MaxTrackedConnections = 64;
            })
            .Build();

        Assert.Equal(4096, tracer.Options.RingBufferBytes);
        Assert.Equal(1, tracer.Options.ConsumerBufferCapacity);
        Assert.Equal(64, tracer.Options.MaxTrackedConnections);
    }

    [Fact]
    public async Task DefaultOptionsAreDocumentedValues()
    {
        var source = new FakeEventSource();
        await using BeylaTracer tracer = new BeylaBuilder().WithEventSource(source).Build();

        Assert.False(tracer.Options.CaptureQueryString);
        Assert.Equal(65_536, tracer.Options.ConsumerBufferCapacity);
        Assert.Equal(TimeSpan.FromSeconds(1), tracer.Options.ProcessRescanInterval);
        Assert.Equal(16 * 1024 * 1024, tracer.Options.RingBufferBytes);
        Assert.Equal(16_384, tracer.Options.MaxTrackedConnections);
        Assert.Equal(["fake"], tracer.SourceNames);
    }

    [Fact]
    public async Task OptionsAreCopiedWhenBuilt()
    {
        BeylaOptions? seen = null;
        var builder = new BeylaBuilder()
            .WithEventSource(new FakeEventSource())
            .Configure(o =>
            {
                o.CaptureQueryString = true;
                seen = o;
            });
        await using BeylaTracer tracer = builder.Build();

        builder.Configure(o => o.CaptureQueryString = false);

        Assert.NotNull(seen);
        Assert.True(tracer.Options.CaptureQueryString);
        Assert.NotSame(seen, tracer.Options);
    }

    [Fact]
    public void NullArgumentsAreRejected()
    {
        var builder = new BeylaBuilder();

        Assert.Throws<ArgumentNullException>(() => builder.WithEventSource((IEventSource)null!));
        Assert.Throws<ArgumentNullException>(() => builder.WithEventSource((Func<EventSourceContext, IEventSource>)null!));
        Assert.Throws<ArgumentNullException>(() => builder.AddSink(null!));
        Assert.Throws<ArgumentNullException>(() => builder.Configure(null!));
        Assert.Throws<ArgumentNullException>(() => builder.TraceProcesses(null!));
        Assert.Throws<ArgumentNullException>(() => builder.WithLogging(null!));
    }

    [Fact]
    public async Task FactoryReceivesTheSelectorAndOptions()
    {
        EventSourceContext? context = null;
        var builder = new BeylaBuilder()
            .TraceProcesses(p => p.ListeningOn(8080))
            .TraceProcesses(p => p.ProcessId(1234))
            .Configure(o => o.MaxTrackedConnections = 128)
            .WithEventSource(c =>
            {
                context = c;
                var source = new FakeEventSource();
                source.Complete();
                return source;
            });

        await using BeylaTracer tracer = builder.Build();

        Assert.NotNull(context);
        Assert.Equal([8080], context.Processes.Ports);
        Assert.Equal([1234], context.Processes.ProcessIds);
        Assert.False(context.Processes.IsAll);
        Assert.Equal(128, context.Options.MaxTrackedConnections);
        Assert.Same(tracer.Options, context.Options);
    }

    [Fact]
    public void FailingFactoryDisposesTheSourcesAlreadyCreated()
    {
        var first = new FakeEventSource("first");
        var builder = new BeylaBuilder()
            .WithEventSource(first)
            .WithEventSource(_ => throw new BeylaException("cannot attach"));

        BeylaException ex = Assert.Throws<BeylaException>(() => builder.Build());

        Assert.Equal("cannot attach", ex.Message);
        // Disposing a FakeEventSource completes it: it accepts nothing more.
        Assert.Throws<InvalidOperationException>(() => first.Add(TestSpans.Numbered(0)));
    }

    [Fact]
    public void FactoryReturningNullThrowsInvalidOperation()
    {
        var builder = new BeylaBuilder().WithEventSource(_ => null!);

        Assert.Throws<InvalidOperationException>(() => builder.Build());
    }

    [Fact]
    public async Task FailingSourceEndsOnlyItselfAndIsNotReportedAsSpans()
    {
        var good = new FakeEventSource("good");
        await using BeylaTracer tracer = new BeylaBuilder()
            .WithEventSource(new FailingSource())
            .WithEventSource(good)
            .Build();
        SpanCollector consumer = SpanCollector.Start(tracer.Spans());

        good.Add(TestSpans.Numbered(0));
        good.Complete();

        await tracer.Completion.WaitAsync(TestTimeouts.Default);
        await consumer.Completion.WaitAsync(TestTimeouts.Default);
        Assert.Equal(["/items/0"], consumer.Spans.Select(s => s.Path));
        Assert.Equal(["failing", "good"], tracer.SourceNames);
    }

    private sealed class FailingSource : IEventSource
    {
        public string Name => "failing";

        public long LostEvents => 0;

        public Task RunAsync(PipeWriter output, CancellationToken cancellationToken) =>
            Task.FromException(new IOException("device gone"));

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
