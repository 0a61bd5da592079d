using System.Buffers.Binary;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Text;
using Beyla.Exporters;
using Beyla.Implementation;
using Beyla.Tests.Support;

namespace Beyla.Tests;

/// <summary>
/// Secrets in query strings and headers of a captured request head never reach any sink or
/// exporter with the defaults; the query string reaches only <see cref="HttpSpan.QueryString"/>,
/// and only when opted in.
/// </summary>
public sealed class SecretsTests
{
    private const string Secret = "S3CR3T-t0ken";

    private static byte[] RecordWithSecrets(int i)
    {
        byte[] record = EventRecords.EncodeHttpSpan(new HttpSpan
        {
            Method = "GET", Path = "/login", StatusCode = 200, DurationNanoseconds = 1_000_000, ProcessId = 4242 + i,
        });
        string head = $"GET /login?token={Secret}&user=bob HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {Secret}\r\nCookie: session={Secret}\r\n\r\n";
        int length = Encoding.ASCII.GetBytes(head, record.AsSpan(HttpEventLayout.Head, HttpEventLayout.HeadCapacity));
        BinaryPrimitives.WriteUInt16LittleEndian(record.AsSpan(HttpEventLayout.HeadLength), (ushort)length);
        return record;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task NoSinkSeesTheSecrets(bool captureQueryString)
    {
        string service = "secrets-" + Guid.NewGuid().ToString("N");
        var activities = new List<Activity>();
        using var activityListener = new ActivityListener
        {
            ShouldListenTo = s => s.Name == OpenTelemetrySpanSink.SourceName,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = a =>
            {
                lock (activities)
                    activities.Add(a);
            },
        };
        ActivitySource.AddActivityListener(activityListener);
        var measurementTags = new List<string>();
        using var meterListener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Name == OpenTelemetrySpanSink.SourceName)
                    l.EnableMeasurementEvents(instrument);
            },
        };
        meterListener.SetMeasurementEventCallback<double>((_, _, tags, _) =>
        {
            lock (measurementTags)
                measurementTags.AddRange(tags.ToArray().Select(t => $"{t.Key}={t.Value}"));
        });
        meterListener.Start();

        var logger = new RecordingLogger();
        var prometheus = new PrometheusExporter(new PrometheusExporterOptions { ServeHttp = false });
        var collecting = new CollectingSink();
        var source = new FakeEventSource();
        await using (BeylaTracer tracer = new BeylaBuilder().WithEventSource(source)
            .Configure(o =>
            {
                o.CaptureQueryString = captureQueryString;
                o.ServiceNameResolver = _ => service;
            })
            .AddSink(collecting).AddSink(prometheus).AddOpenTelemetry().AddLogSink(logger)
            .Build())
        {
            for (int i = 0; i < 3; i++)
                source.AddRecord(RecordWithSecrets(i));
            source.Complete();
            await tracer.Completion.WaitAsync(TestTimeouts.Default);
        }

        Assert.Equal(3, collecting.Spans.Count);
        foreach (HttpSpan span in collecting.Spans)
        {
            Assert.Equal("/login", span.Path);
            Assert.Equal(captureQueryString ? $"token={Secret}&user=bob" : null, span.QueryString);
            Assert.DoesNotContain(Secret, span.ToString(), StringComparison.Ordinal);
        }
        Assert.DoesNotContain(Secret, prometheus.WriteMetrics(), StringComparison.Ordinal);
        Assert.DoesNotContain(Secret, prometheus.WriteMetrics(openMetrics: true), StringComparison.Ordinal);
        Assert.Equal(3, logger.Entries.Count);
        Assert.All(logger.Entries, e => Assert.DoesNotContain(Secret, e.Message, StringComparison.Ordinal));
        Activity[] mine;
        lock (activities)
            mine = activities.Where(a => Equals(a.GetTagItem(SpanAttributes.ServiceName), service)).ToArray();
        Assert.Equal(3, mine.Length);
        foreach (Activity activity in mine)
        {
            Assert.DoesNotContain(Secret, activity.DisplayName, StringComparison.Ordinal);
            Assert.All(activity.TagObjects, t => Assert.DoesNotContain(Secret, t.Value?.ToString() ?? "", StringComparison.Ordinal));
        }
        lock (measurementTags)
            Assert.All(measurementTags, t => Assert.DoesNotContain(Secret, t, StringComparison.Ordinal));
    }
}
