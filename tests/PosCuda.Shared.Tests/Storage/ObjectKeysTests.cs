using PosCuda.Shared.Storage;

namespace PosCuda.Shared.Tests.Storage;

public sealed class ObjectKeysTests
{
    [Theory]
    [InlineData("plain/é😀.wav", "plain/é😀.wav")]
    [InlineData("a\u001b[31mb\tc\u007f\u0085.wav", "a\\u001b[31mb\\u0009c\\u007f\\u0085.wav")]
    public void Printable_ControlCharacters_AreEscapedAndTheRestKept(string key, string printable) =>
        Assert.Equal(printable, ObjectKeys.Printable(key));

    [Fact]
    public void Recordable_NulKey_HasNoNulAndOtherKeysAreUnchanged()
    {
        Assert.Equal("a\\u0000b.wav", ObjectKeys.Recordable("a\0b.wav"));
        Assert.Equal("a\u0001b.wav", ObjectKeys.Recordable("a\u0001b.wav"));
    }

    [Theory]
    [InlineData("s3://bucket/in", "a//b.wav", null)]
    [InlineData("s3://bucket/in", "../up.wav", null)]
    [InlineData("/data/out", "a//b.wav", "key has an empty segment ('//'), which a folder cannot hold")]
    [InlineData("/data/out", "a/../up.wav", "key has a '..' segment; a folder cannot hold it (it would escape the folder or name another file)")]
    [InlineData("/data/out", "a\\b.wav", null)]
    [InlineData("s3://bucket", "a/", "key ends with '/', which S3 listings take for a folder marker")]
    public void Check_ByLocation_GivesTheStoresReason(string location, string key, string? reason) =>
        Assert.Equal(reason, ObjectKeys.Check(location, key));
}
