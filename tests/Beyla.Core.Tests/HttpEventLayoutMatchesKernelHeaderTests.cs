using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using Beyla.Implementation;
using Beyla.Tests.Support;

namespace Beyla.Tests;

/// <summary>
/// Compiles the kernel's event header with the host C compiler and compares its layout with
/// <see cref="HttpEventLayout"/>: the two describe one ABI and must change together.
/// </summary>
public sealed partial class HttpEventLayoutMatchesKernelHeaderTests
{
    /// <summary>C field of <c>struct http_span_event</c> → (C# offset, size the decoder reads).</summary>
    private static readonly Dictionary<string, (int Offset, int Size)> ManagedFields = new(StringComparer.Ordinal)
    {
        ["type"] = (HttpEventLayout.Type, 4),
        ["kind"] = (HttpEventLayout.Kind, 1),
        ["end_reason"] = (HttpEventLayout.EndReason, 1),
        ["flags"] = (HttpEventLayout.Flags, 2),
        ["start_ns"] = (HttpEventLayout.StartNs, 8),
        ["end_ns"] = (HttpEventLayout.EndNs, 8),
        ["request_bytes"] = (HttpEventLayout.RequestBytes, 8),
        ["response_bytes"] = (HttpEventLayout.ResponseBytes, 8),
        ["pid"] = (HttpEventLayout.Pid, 4),
        ["tid"] = (HttpEventLayout.Tid, 4),
        ["status"] = (HttpEventLayout.Status, 2),
        ["local_port"] = (HttpEventLayout.LocalPort, 2),
        ["peer_port"] = (HttpEventLayout.PeerPort, 2),
        ["head_len"] = (HttpEventLayout.HeadLength, 2),
        ["local_addr"] = (HttpEventLayout.LocalAddress, 16),
        ["peer_addr"] = (HttpEventLayout.PeerAddress, 16),
        ["head"] = (HttpEventLayout.Head, HttpEventLayout.HeadCapacity),
        ["comm"] = (HttpEventLayout.Comm, HttpEventLayout.CommCapacity),
    };

    /// <summary>Macros of the header → the managed value they must equal.</summary>
    private static readonly Dictionary<string, long> ManagedConstants = new(StringComparer.Ordinal)
    {
        ["REQUEST_HEAD_CAPTURE"] = HttpEventLayout.HeadCapacity,
        ["EVENT_HTTP_SPAN"] = HttpEventLayout.TypeHttpSpan,
        ["SPAN_FLAG_IPV6"] = HttpEventLayout.FlagIpv6,
        ["SPAN_FLAG_TLS"] = HttpEventLayout.FlagTls,
        ["SPAN_KIND_SERVER"] = (long)HttpSpanKind.Server,
        ["SPAN_KIND_CLIENT"] = (long)HttpSpanKind.Client,
        ["END_BY_LENGTH"] = (long)SpanEndReason.ResponseComplete,
        ["END_BY_NEXT_REQUEST"] = (long)SpanEndReason.NextRequest,
        ["END_BY_CLOSE"] = (long)SpanEndReason.ConnectionClosed,
        ["END_NO_RESPONSE"] = (long)SpanEndReason.NoResponse,
    };

    [GeneratedRegex(@"struct\s+http_span_event\s*\{(?<body>[^}]*)\}", RegexOptions.Singleline)]
    private static partial Regex StructPattern();

    [GeneratedRegex(@"^\s*(?:__u8|__u16|__u32|__u64|__s8|__s16|__s32|__s64)\s+(?<name>\w+)\s*(?:\[[^\]]*\])?\s*;", RegexOptions.Multiline)]
    private static partial Regex FieldPattern();

    [GeneratedRegex(@"/\*.*?\*/", RegexOptions.Singleline)]
    private static partial Regex CommentPattern();

    private static string BpfDirectory => Path.Combine(RepositoryRoot.Find(), "src", "Beyla.Bpf", "bpf");

    private static List<string> HeaderFields()
    {
        string header = CommentPattern().Replace(File.ReadAllText(Path.Combine(BpfDirectory, "http_event.h")), " ");
        Match structMatch = StructPattern().Match(header);
        Assert.True(structMatch.Success, "struct http_span_event not found in http_event.h");
        List<string> fields = [.. FieldPattern().Matches(structMatch.Groups["body"].Value).Select(m => m.Groups["name"].Value)];
        int declarations = structMatch.Groups["body"].Value.Count(c => c == ';');
        Assert.True(fields.Count == declarations, $"parsed {fields.Count} of {declarations} field declarations: {string.Join(", ", fields)}");
        return fields;
    }

    [Fact]
    public void EveryHeaderFieldHasAManagedOffset()
    {
        List<string> fields = HeaderFields();

        Assert.Equal(ManagedFields.Keys.Order(StringComparer.Ordinal), fields.Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task CompiledHeaderHasTheManagedLayout()
    {
        List<string> fields = HeaderFields();
        string dir = Directory.CreateTempSubdirectory("beyla-layout-").FullName;
        try
        {
            var program = new StringBuilder();
            program.AppendLine("#include <stdio.h>");
            program.AppendLine("#include <stddef.h>");
            program.AppendLine("#include \"vmlinux_min.h\"");
            program.AppendLine("#include \"http_event.h\"");
            program.AppendLine("int main(void) {");
            program.AppendLine("\tprintf(\"sizeof %zu\\n\", sizeof(struct http_span_event));");
            foreach (string field in fields)
            {
                program.AppendLine(CultureInfo.InvariantCulture,
                    $"\tprintf(\"offsetof.{field} %zu\\n\", offsetof(struct http_span_event, {field}));");
                program.AppendLine(CultureInfo.InvariantCulture,
                    $"\tprintf(\"sizeof.{field} %zu\\n\", sizeof(((struct http_span_event *)0)->{field}));");
            }
            foreach (string macro in ManagedConstants.Keys)
                program.AppendLine(CultureInfo.InvariantCulture, $"\tprintf(\"macro.{macro} %lld\\n\", (long long)({macro}));");
            program.AppendLine("\treturn 0;");
            program.AppendLine("}");
            string source = Path.Combine(dir, "layout.c");
            string binary = Path.Combine(dir, "layout");
            await File.WriteAllTextAsync(source, program.ToString());

            (int compileExit, string compileOutput) = await RunAsync("gcc", "-std=gnu11", "-w", "-I", BpfDirectory, "-o", binary, source);
            Assert.True(compileExit == 0, $"gcc failed ({compileExit}):\n{compileOutput}\n{program}");
            (int runExit, string output) = await RunAsync(binary);
            Assert.True(runExit == 0, $"layout program failed ({runExit}): {output}");

            Dictionary<string, long> values = output
                .Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Select(line => line.Split(' '))
                .ToDictionary(parts => parts[0], parts => long.Parse(parts[1], CultureInfo.InvariantCulture), StringComparer.Ordinal);

            Assert.Equal(HttpEventLayout.Size, values["sizeof"]);
            Assert.Equal(HttpEventLayout.Size, EventRecords.HttpSpanRecordSize);
            foreach (string field in fields)
            {
                (int offset, int size) = ManagedFields[field];
                Assert.True(offset == values[$"offsetof.{field}"], $"{field}: C offset {values[$"offsetof.{field}"]}, C# {offset}");
                Assert.True(size == values[$"sizeof.{field}"], $"{field}: C size {values[$"sizeof.{field}"]}, C# reads {size}");
            }
            foreach ((string macro, long expected) in ManagedConstants)
                Assert.True(expected == values[$"macro.{macro}"], $"{macro}: C {values[$"macro.{macro}"]}, C# {expected}");
            Assert.Equal(HttpEventLayout.HeadCapacity, EventRecords.RequestHeadCapacity);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void ManagedFieldsDoNotOverlapAndEndAtTheRecordSize()
    {
        int previousEnd = 0;
        foreach ((string name, (int offset, int size)) in ManagedFields.OrderBy(f => f.Value.Offset))
        {
            Assert.True(offset >= previousEnd, $"{name} at {offset} overlaps the field ending at {previousEnd}");
            Assert.True(offset % Math.Min(size, 8) == 0 || size >= 16, $"{name} at {offset} is not aligned to its size {size}");
            previousEnd = offset + size;
        }
        Assert.Equal(HttpEventLayout.Size, previousEnd);
    }

    private static async Task<(int ExitCode, string Output)> RunAsync(string fileName, params string[] arguments)
    {
        var start = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string argument in arguments)
            start.ArgumentList.Add(argument);
        using Process process = Process.Start(start) ?? throw new InvalidOperationException($"cannot start {fileName}");
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await stdout + await stderr);
    }
}
