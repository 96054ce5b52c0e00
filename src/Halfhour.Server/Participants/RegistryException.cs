namespace Halfhour.Server.Participants;

/// <summary>Why the registry refused a change.</summary>
public enum RegistryRefusal
{
    /// <summary>No participant with that DIP ID in that environment.</summary>
    NotFound,
    /// <summary>A participant with that DIP ID already exists in that environment.</summary>
    AlreadyExists,
    /// <summary>The certificate or API key already identifies another participant.</summary>
    CredentialInUse,
    /// <summary>The change would leave the participant with no way to identify itself.</summary>
    LastCredential,
    /// <summary>A field is not in its required form.</summary>
    Invalid,
}

/// <summary>A refused registry change, with a sentence the operator can act on.</summary>
public sealed class RegistryException : Exception
{
    /// <summary>Creates the exception.</summary>
    public RegistryException(RegistryRefusal refusal, string message) : base(message) => Refusal = refusal;

    /// <summary>Creates the exception (serialisation shape).</summary>
    public RegistryException() : this(RegistryRefusal.Invalid, "The registry refused the change.") { }

    /// <summary>Creates the exception (serialisation shape).</summary>
    public RegistryException(string message) : this(RegistryRefusal.Invalid, message) { }

    /// <summary>Creates the exception (serialisation shape).</summary>
    public RegistryException(string message, Exception innerException) : base(message, innerException) => Refusal = RegistryRefusal.Invalid;

    /// <summary>Why.</summary>
    public RegistryRefusal Refusal { get; }
}
