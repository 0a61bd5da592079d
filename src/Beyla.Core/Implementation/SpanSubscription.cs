using System.Threading.Channels;

namespace Beyla.Implementation;

/// <summary>One <see cref="BeylaTracer.Spans"/> consumer: a bounded channel that drops and counts when full.</summary>
internal sealed class SpanSubscription
{
    private long _dropped;

    public SpanSubscription(int capacity)
    {
        Channel = System.Threading.Channels.Channel.CreateBounded<HttpSpan>(
            new BoundedChannelOptions(capacity)
            {
                FullMode = BoundedChannelFullMode.DropWrite,
                SingleReader = true,
                SingleWriter = true,
                AllowSynchronousContinuations = false,
            },
            _ => Interlocked.Increment(ref _dropped));
    }

    public Channel<HttpSpan> Channel { get; }

    public long Dropped => Interlocked.Read(ref _dropped);
}
