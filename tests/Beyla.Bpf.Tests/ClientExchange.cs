namespace Beyla.Bpf.Tests;

/// <summary>One request as the client saw it: Stopwatch timestamps before the first byte written and after the last byte read.</summary>
internal sealed record ClientExchange(string Method, string Path, int Status, long RequestBytes, long ResponseBytes, long StartTimestamp, long EndTimestamp, int LocalPort);
