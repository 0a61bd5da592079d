namespace Beyla.Implementation;

/// <summary>The parts of an HTTP/1.x request line, as parsed by <see cref="RequestLineParser"/>.</summary>
internal readonly record struct RequestLine(string Method, string Path, string? Query, string Version, bool Truncated);
