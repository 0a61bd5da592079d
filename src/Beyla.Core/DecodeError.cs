namespace Beyla;

/// <summary>Why a raw event record could not become a span.</summary>
public enum DecodeError
{
    /// <summary>The record was decoded.</summary>
    None = 0,

    /// <summary>The record is shorter than its type requires.</summary>
    Truncated,

    /// <summary>The record type is unknown.</summary>
    UnknownType,

    /// <summary>A field holds a value the layout does not allow (kind, lengths, times).</summary>
    InvalidField,

    /// <summary>The captured request head is not an HTTP/1.x request line.</summary>
    NotHttp,
}
