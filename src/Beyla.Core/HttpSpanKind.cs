namespace Beyla;

/// <summary>Which side of an HTTP exchange the traced process was on.</summary>
public enum HttpSpanKind
{
    /// <summary>The traced process received the request and sent the response.</summary>
    Server = 1,

    /// <summary>The traced process sent the request and received the response.</summary>
    Client = 2,
}
