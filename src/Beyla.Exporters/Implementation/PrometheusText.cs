using System.Globalization;
using System.Text;

namespace Beyla.Exporters.Implementation;

/// <summary>Writes metric families in the Prometheus text format 0.0.4 or in OpenMetrics 1.0.</summary>
internal sealed class PrometheusText
{
    public const string TextContentType = "text/plain; version=0.0.4; charset=utf-8";
    public const string OpenMetricsContentType = "application/openmetrics-text; version=1.0.0; charset=utf-8";

    private readonly StringBuilder _text = new(4096);
    private readonly bool _openMetrics;

    public PrometheusText(bool openMetrics) => _openMetrics = openMetrics;

    public void Histogram(HttpMetric metric, HistogramAggregator aggregator)
    {
        string name = metric.PrometheusName;
        Header(name, metric.Description, "histogram", metric.Unit == "s" ? "seconds" : "bytes");
        foreach (HistogramSeries series in aggregator.Series)
        {
            string separator = series.Labels.Length == 0 ? "" : ",";
            long cumulative = 0;
            for (int i = 0; i < series.BucketCounts.Length; i++)
            {
                cumulative += series.BucketCounts[i];
                string le = i < aggregator.Bounds.Length ? Number(aggregator.Bounds[i]) : "+Inf";
                _text.Append(name).Append("_bucket{").Append(series.Labels).Append(separator).Append("le=\"").Append(le).Append("\"} ")
                    .Append(cumulative.ToString(CultureInfo.InvariantCulture)).Append('\n');
            }
            Sample(name + "_sum", series.Labels, Number(series.Sum));
            Sample(name + "_count", series.Labels, series.Count.ToString(CultureInfo.InvariantCulture));
        }
    }

    /// <summary>A counter; <paramref name="name"/> without the <c>_total</c> suffix.</summary>
    public void Counter(string name, string help, long value)
    {
        Header(_openMetrics ? name : name + "_total", help, "counter", unit: null);
        Sample(name + "_total", "", value.ToString(CultureInfo.InvariantCulture));
    }

    public override string ToString()
    {
        if (_openMetrics)
            return _text.ToString() + "# EOF\n";
        return _text.ToString();
    }

    private void Header(string name, string help, string type, string? unit)
    {
        _text.Append("# HELP ").Append(name).Append(' ');
        foreach (char c in help)
        {
            if (c == '\\')
                _text.Append(@"\\");
            else if (c == '\n')
                _text.Append(@"\n");
            else if (c == '"' && _openMetrics)
                _text.Append("\\\"");
            else
                _text.Append(c);
        }
        _text.Append('\n');
        _text.Append("# TYPE ").Append(name).Append(' ').Append(type).Append('\n');
        if (_openMetrics && unit is not null)
            _text.Append("# UNIT ").Append(name).Append(' ').Append(unit).Append('\n');
    }

    private void Sample(string name, string labels, string value)
    {
        _text.Append(name);
        if (labels.Length > 0)
            _text.Append('{').Append(labels).Append('}');
        _text.Append(' ').Append(value).Append('\n');
    }

    private static string Number(double value) =>
        double.IsPositiveInfinity(value) ? "+Inf" : double.IsNegativeInfinity(value) ? "-Inf" : value.ToString("R", CultureInfo.InvariantCulture);
}
