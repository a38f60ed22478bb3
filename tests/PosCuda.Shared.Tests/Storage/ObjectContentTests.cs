using PosCuda.Shared.Storage;

namespace PosCuda.Shared.Tests.Storage;

public sealed class ObjectContentTests
{
    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(7_000)]
    [InlineData(1 << 20)]
    [InlineData((1 << 20) + 1)]
    [InlineData(3_000_001)]
    public void Rent_AnyLength_DataHasExactlyThatLengthAndIsWritable(int length)
    {
        using ObjectContent content = ObjectContent.Rent(length);

        Assert.Equal(length, content.Length);
        Assert.Equal(length, content.Data.Length);
        content.Data.Span.Fill(0x5a);
        Assert.All(content.Data.ToArray(), b => Assert.Equal(0x5a, b));
    }

    [Fact]
    public void Complete_ShorterThanRented_ShrinksDataAndSetsTheTag()
    {
        using ObjectContent content = ObjectContent.Rent(100);

        content.Complete(40, "tag-1");

        Assert.Equal(40, content.Data.Length);
        Assert.Equal("tag-1", content.ETag);
        Assert.Throws<ArgumentOutOfRangeException>(() => content.Complete(41, "tag-2"));
    }

    [Fact]
    public void Dispose_Twice_LeavesEmptyDataAndDoesNotReturnTheBufferTwice()
    {
        ObjectContent content = ObjectContent.Rent(5_000);

        content.Dispose();
        content.Dispose();

        Assert.True(content.Data.IsEmpty);
        Assert.Equal(0, content.Length);
    }

    [Fact]
    public void Constructor_OwnedArray_IsUsedAsIs()
    {
        byte[] data = [1, 2, 3];
        using var content = new ObjectContent(data, "e");

        Assert.True(content.Data.Span.SequenceEqual(data));
        content.Data.Span[0] = 9;
        Assert.Equal(9, data[0]);
    }
}
