using System.IO.Pipelines;
using System.Threading.Channels;

namespace Beyla;

/// <summary>
/// An event source for tests and demos that needs no kernel and no privileges: spans and raw
/// records added here go through the same pipe, decoder and dispatch as kernel events.
/// </summary>
/// <example>
/// <code>
/// var source = new FakeEventSource();
/// await using var tracer = new BeylaBuilder().WithEventSource(source).AddSink(mySink).Build();
/// source.Add(new HttpSpan { Method = "GET", Path = "/users/42", StatusCode = 200, DurationNanoseconds = 1_000_000 });
/// source.Complete();
/// await tracer.Completion;
/// </code>
/// </example>
public sealed class FakeEventSource : IEventSource
{
    private readonly Channel<byte[]> _records = Channel.CreateUnbounded<byte[]>(new UnboundedChannelOptions { SingleReader = true });
    private long _lost;

    /// <summary>Creates a source named <c>fake</c>.</summary>
    public FakeEventSource()
        : this("fake")
    {
    }

    /// <summary>Creates a source with a name.</summary>
    /// <param name="name">The name shown in diagnostics.</param>
    public FakeEventSource(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        Name = name;
    }

    /// <inheritdoc />
    public string Name { get; }

    /// <inheritdoc />
    public long LostEvents => Interlocked.Read(ref _lost);

    /// <summary>Queues a span, encoded as the kernel would encode it.</summary>
    /// <param name="span">The span.</param>
    public void Add(HttpSpan span) => AddRecord(EventRecords.EncodeHttpSpan(span));

    /// <summary>Queues a raw record (for decoder tests: it may be malformed on purpose).</summary>
    /// <param name="record">The record bytes, without framing.</param>
    public void AddRecord(ReadOnlySpan<byte> record)
    {
        if (!_records.Writer.TryWrite(record.ToArray()))
            throw new InvalidOperationException("The source was completed.");
    }

    /// <summary>Adds to <see cref="LostEvents"/>, as a kernel source does when its ring buffer is full.</summary>
    /// <param name="count">Events lost.</param>
    public void ReportLost(long count) => Interlocked.Add(ref _lost, count);

    /// <summary>Ends the source once every queued record has been delivered.</summary>
    public void Complete() => _records.Writer.TryComplete();

    /// <inheritdoc />
    public async Task RunAsync(PipeWriter output, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(output);
        ChannelReader<byte[]> reader = _records.Reader;
        while (await reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
        {
            while (reader.TryRead(out byte[]? record))
                EventRecords.Write(output, record);
            FlushResult flush = await output.FlushAsync(cancellationToken).ConfigureAwait(false);
            if (flush.IsCompleted)
                break;
        }
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync()
    {
        Complete();
        return ValueTask.CompletedTask;
    }
}
