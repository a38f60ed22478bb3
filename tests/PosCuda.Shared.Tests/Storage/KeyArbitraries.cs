using FsCheck;
using FsCheck.Fluent;

namespace PosCuda.Shared.Tests.Storage;

/// <summary>FsCheck generators of object keys S3 accepts, biased towards the ones a folder or an XML listing cannot take.</summary>
/// <remarks>
/// Keys are 1-5 '/'-joined segments, each a nasty one ('', '.', '..', a backslash, <c>%2F</c>, control characters,
/// astral characters, a name near or over 255 UTF-8 bytes, NUL) or random text, sometimes with a leading or trailing
/// '/'. No newline: moto_server cannot route a path holding one (real S3 can); a carriage return stands in for it.
/// </remarks>
public static class KeyArbitraries
{
    private static readonly string[] s_nastySegments =
    [
        string.Empty, ".", "..", "...", "a\\b", "..\\..", "%2F", "%2e%2e", "x\u0001y", "tab\there", "cr\r", "\u001b[31mred",
        "\u007fdel", "\u0085next", "\ufeffbom", "\u00e9t\u00e9", "\U0001F600", "sp ace", "plus+", "q?x#y&z", "~", "\u200b",
        "C:", "con", new string('n', 255), new string('n', 256), new string('\u00e9', 127) + "x", new string('\u00e9', 128),
        "nul\0", "yes", "no", "7",
    ];

    private static readonly char[] s_alphabet =
        "abcXYZ019._-+ %\\:*?\"<>|~#&='\u0001\u001f\u007f\u00e9\u00df\u4e2d\u200b\ufeff".ToCharArray();

    /// <summary>Keys as S3 accepts them (any UTF-8 but a newline), at most 4 KiB long.</summary>
    public static Arbitrary<string> Keys()
    {
        Gen<string> randomSegment = Gen.Choose(1, 12).SelectMany(n => Gen.ArrayOf(Gen.Elements(s_alphabet), n)).Select(cs => new string(cs));
        Gen<string> segment = Gen.Frequency((3, Gen.Elements(s_nastySegments)), (2, randomSegment));
        Gen<string> keys =
            from count in Gen.Choose(1, 5)
            from segments in Gen.ArrayOf(segment, count)
            from leading in Gen.Frequency((1, Gen.Constant("/")), (6, Gen.Constant(string.Empty)))
            from ending in Gen.Frequency((1, Gen.Constant("/")), (2, Gen.Constant(string.Empty)), (5, Gen.Constant(".wav")))
            let key = leading + string.Join('/', segments) + ending
            where key.Length > 0
            select key;
        return Arb.From(keys);
    }
}
