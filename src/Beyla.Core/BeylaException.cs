namespace Beyla;

/// <summary>A tracer could not be built or run; the message says what failed and why.</summary>
public class BeylaException : Exception
{
    /// <summary>Creates an exception with no message.</summary>
    public BeylaException()
    {
    }

    /// <summary>Creates an exception with a message.</summary>
    /// <param name="message">What failed and why.</param>
    public BeylaException(string message)
        : base(message)
    {
    }

    /// <summary>Creates an exception with a message and a cause.</summary>
    /// <param name="message">What failed and why.</param>
    /// <param name="innerException">The cause.</param>
    public BeylaException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
