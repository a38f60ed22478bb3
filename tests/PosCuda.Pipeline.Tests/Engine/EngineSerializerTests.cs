using Akka.Actor;
using Akka.Serialization;
using PosCuda.Engine.Hosting;
using PosCuda.Engine.Protocol;
using PosCuda.Shared.Ledger;

namespace PosCuda.Pipeline.Tests.Engine;

public sealed class EngineSerializerTests : IDisposable
{
    private readonly ActorSystem _system = ActorSystem.Create("serializer-test", EngineConfig.Local(serializeAllMessages: true));

    public static TheoryData<IEngineMessage> Messages()
    {
        var job = Guid.CreateVersion7();
        return
        [
            new RequestBatch(job, "7", "host/42/slot-3", 60, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
            new RequestBatch(job, "a/b \u00e9\u0001", "w", 1.5, null),
            new RequestBatch(job, "7", "gpu-node/1/slot-0", 60, null, MergeUpTo: 4096),
            new StillHolding(job, "7", 12, Guid.NewGuid(), 2, "w"),
            new BatchReturned(job, "7", 12, Guid.NewGuid()),
            new KeepAlive(job, ""),
            StopShard.Instance,
            new BatchGranted(job, "7", 12, Guid.NewGuid(), 1, DateTimeOffset.UnixEpoch.AddSeconds(1_800_000_000),
                [new BatchObject(1, "raw/7_a.wav", 1234, "\"etag\""), new BatchObject(2, "raw/\u00fc\u0000/x.wav", 0, null)], null),
            new NoBatch(job, "7"),
            GetOpenClasses.Instance,
            new OpenClasses([new OpenClass(job, "1", 3, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"), new OpenClass(job, "2", 1, null)]),
            OpenClasses.None,
            new BatchFinished(job),
        ];
    }

    [Theory]
    [MemberData(nameof(Messages))]
    public void EveryMessage_RoundTripsThroughTheBoundSerializerWithAShortManifest(IEngineMessage message)
    {
        Serializer serializer = _system.Serialization.FindSerializerFor(message);
        Assert.IsType<EngineSerializer>(serializer);
        var manifested = (SerializerWithStringManifest)serializer;
        string manifest = manifested.Manifest(message);
        byte[] bytes = manifested.ToBinary(message);

        object back = manifested.FromBinary(bytes, manifest);

        Assert.Equal(2, manifest.Length);
        Assert.Equal(message.GetType(), back.GetType());
        // Records compare by value, but lists by reference: compare the serialised forms.
        Assert.Equal(bytes, manifested.ToBinary(back));
        Assert.Equal(message, back is BatchGranted or OpenClasses ? message : back);
    }

    [Fact]
    public void UnknownManifest_IsRefusedWithAClearError()
    {
        var serializer = (SerializerWithStringManifest)_system.Serialization.FindSerializerFor(GetOpenClasses.Instance);
        var error = Assert.Throws<System.Runtime.Serialization.SerializationException>(() => serializer.FromBinary("{}"u8.ToArray(), "zz"));
        Assert.Contains("'zz'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void RequestBatch_WithoutMerging_IsWrittenAsBeforeTheMergeFieldExisted()
    {
        var request = new RequestBatch(Guid.Parse("01a23c0d-49ed-7a5e-bc0b-512e9a2a140b"), "1", "w", 60, null);
        var serializer = (SerializerWithStringManifest)_system.Serialization.FindSerializerFor(request);

        string json = System.Text.Encoding.UTF8.GetString(serializer.ToBinary(request));

        Assert.DoesNotContain("MergeUpTo", json, StringComparison.Ordinal); // an earlier node, which refuses unknown properties, reads it
        Assert.Equal(request, serializer.FromBinary(System.Text.Encoding.UTF8.GetBytes(json), serializer.Manifest(request)));
        Assert.Contains("\"MergeUpTo\":8", System.Text.Encoding.UTF8.GetString(serializer.ToBinary(request with { MergeUpTo = 8 })), StringComparison.Ordinal);
    }

    [Fact]
    public void MessageWithAnUnknownProperty_IsRefused()
    {
        var serializer = (SerializerWithStringManifest)_system.Serialization.FindSerializerFor(GetOpenClasses.Instance);
        Assert.ThrowsAny<System.Text.Json.JsonException>(() => serializer.FromBinary("""{"JobId":"01a23c0d-49ed-7a5e-bc0b-512e9a2a140b","Label":"1","Extra":1}"""u8.ToArray(), "nb"));
    }

    public void Dispose() => _system.Dispose();
}
