using System.Text;

namespace Beyla.Exporters.Implementation;

/// <summary>
/// The series of one histogram metric, keyed by attribute values, bounded by a series cap
/// beyond which observations go to one overflow series. Not thread-safe: its owner locks.
/// </summary>
internal sealed class HistogramAggregator
{
    public const string OverflowLabel = "otel_metric_overflow=\"true\"";

    private readonly Dictionary<SeriesKey, HistogramSeries> _series = [];
    private readonly int _maxSeries;
    private HistogramSeries? _overflow;

    public HistogramAggregator(HttpMetric metric, AttributeFlags attributes, double[] bounds, int maxSeries)
    {
        Metric = metric;
        Attributes = attributes;
        Bounds = bounds;
        _maxSeries = maxSeries;
    }

    public HttpMetric Metric { get; }

    public AttributeFlags Attributes { get; }

    public double[] Bounds { get; }

    public long OverflowedObservations { get; private set; }

    public void Record(HttpSpan span)
    {
        SeriesKey key = SeriesKey.From(span, Attributes);
        if (!_series.TryGetValue(key, out HistogramSeries? series))
        {
            if (_series.Count >= _maxSeries)
            {
                OverflowedObservations++;
                series = _overflow ??= new HistogramSeries(Bounds, OverflowLabel);
            }
            else
            {
                series = new HistogramSeries(Bounds, FormatLabels(key));
                _series.Add(key, series);
            }
        }
        series.Record(Metric.Measure(span));
    }

    public IEnumerable<HistogramSeries> Series => _overflow is null ? _series.Values : _series.Values.Append(_overflow);

    private static string FormatLabels(SeriesKey key)
    {
        var text = new StringBuilder();
        foreach (KeyValuePair<string, string> attribute in key.Attributes())
        {
            if (text.Length > 0)
                text.Append(',');
            text.Append(attribute.Key.Replace('.', '_')).Append("=\"");
            AppendEscaped(text, attribute.Value);
            text.Append('"');
        }
        return text.ToString();
    }

    /// <summary>Escapes a label value as the exposition formats require: backslash, double quote and newline.</summary>
    internal static void AppendEscaped(StringBuilder text, string value)
    {
        foreach (char c in value)
        {
            switch (c)
            {
                case '\\': text.Append(@"\\"); break;
                case '"': text.Append("\\\""); break;
                case '\n': text.Append(@"\n"); break;
                default: text.Append(c); break;
            }
        }
    }
}
