using System.Security.Cryptography;
using System.Text;

namespace PosCuda.Shared.Protection;

/// <summary>The per-class key every spec version starts from: <c>HMAC-SHA256(secret, prefix + label)</c>.</summary>
internal static class ClassKey
{
    // Labels are hashed as their exact UTF-8 bytes; a string with no exact encoding (a lone surrogate) is refused
    // rather than silently replaced with U+FFFD.
    private static readonly UTF8Encoding s_strictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>Writes the class key of <paramref name="label"/> under <paramref name="prefix"/> into <paramref name="classKey"/>.</summary>
    /// <exception cref="ArgumentException">The secret is not 32 bytes, or the label is not valid Unicode.</exception>
    public static void Derive(ReadOnlySpan<byte> secret, ReadOnlySpan<byte> prefix, string label, Span<byte> classKey)
    {
        ArgumentNullException.ThrowIfNull(label);
        if (secret.Length != 32)
        {
            throw new ArgumentException("A key secret is 32 bytes.", nameof(secret));
        }

        byte[] labelBytes;
        try
        {
            labelBytes = s_strictUtf8.GetBytes(label);
        }
        catch (EncoderFallbackException e)
        {
            throw new ArgumentException("The label is not valid Unicode (it has a lone surrogate).", nameof(label), e);
        }

        byte[] message = new byte[prefix.Length + labelBytes.Length];
        prefix.CopyTo(message);
        labelBytes.CopyTo(message, prefix.Length);
        HMACSHA256.HashData(secret, message, classKey);
    }
}
