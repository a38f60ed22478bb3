using System.IO.Compression;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using PosCuda.Testing.Telemetry;

namespace PosCuda.Shared.Tests.Telemetry;

public sealed class OtlpReceiverTests
{
    [Fact]
    public async Task Post_GzipBody_StoredDecompressedUnderItsPath()
    {
        await using OtlpReceiver receiver = OtlpReceiver.Start();
        using var client = new HttpClient();
        byte[] payload = Encoding.UTF8.GetBytes("poscuda.batch");
        using var compressed = new MemoryStream();
        await using (var gzip = new GZipStream(compressed, CompressionLevel.Fastest, leaveOpen: true))
        {
            await gzip.WriteAsync(payload);
        }

        using var content = new ByteArrayContent(compressed.ToArray());
        content.Headers.ContentType = new MediaTypeHeaderValue("application/x-protobuf");
        content.Headers.ContentEncoding.Add("gzip");

        using HttpResponseMessage response = await client.PostAsync(new Uri(receiver.Endpoint, "v1/logs"), content);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        OtlpRequest request = Assert.Single(receiver.Requests);
        Assert.Equal(OtlpReceiver.LogsPath, request.Path);
        Assert.Equal(payload, request.Body);
        Assert.True(receiver.ContainsText("poscuda.batch"));
        Assert.False(receiver.ContainsText("poscuda.object"));
    }

    [Fact]
    public async Task Get_AnyPath_RefusedAndNotStored()
    {
        await using OtlpReceiver receiver = OtlpReceiver.Start();
        using var client = new HttpClient();

        using HttpResponseMessage response = await client.GetAsync(new Uri(receiver.Endpoint, "v1/traces"));

        Assert.Equal(HttpStatusCode.MethodNotAllowed, response.StatusCode);
        Assert.Empty(receiver.Requests);
    }

    [Fact]
    public async Task Spans_EmptyExportRequest_DecodesToNothing()
    {
        await using OtlpReceiver receiver = OtlpReceiver.Start();
        using var client = new HttpClient();
        using var content = new ByteArrayContent([]);

        using HttpResponseMessage response = await client.PostAsync(new Uri(receiver.Endpoint, "v1/traces"), content);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Single(receiver.Requests);
        Assert.Empty(receiver.Spans);
        Assert.Empty(receiver.MetricPoints);
    }

    [Fact]
    public async Task WaitUntilAsync_ConditionNeverHolds_ThrowsTimeout()
    {
        await using OtlpReceiver receiver = OtlpReceiver.Start();

        await Assert.ThrowsAsync<TimeoutException>(() => receiver.WaitUntilAsync(r => r.Spans.Count > 0, TimeSpan.FromMilliseconds(100)));
    }

    [Fact]
    public async Task EnvironmentVariables_PointAtTheReceiverOverHttpProtobuf()
    {
        await using OtlpReceiver receiver = OtlpReceiver.Start();

        IReadOnlyDictionary<string, string> env = receiver.EnvironmentVariables;

        Assert.Equal(receiver.Endpoint, new Uri(env["OTEL_EXPORTER_OTLP_ENDPOINT"] + "/"));
        Assert.Equal("http/protobuf", env["OTEL_EXPORTER_OTLP_PROTOCOL"]);
        Assert.Equal("127.0.0.1", receiver.Endpoint.Host);
    }
}
