using System.Diagnostics;
using System.Globalization;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;

namespace PosCuda.Benchmarks;

/// <summary>The floor for the distributed pipeline: the same SDK doing a bare GET and PUT of every object, nothing else.</summary>
/// <remarks>
/// <c>dotnet run -c Release --project bench/PosCuda.Benchmarks -- s3-floor ENDPOINT BUCKET SRC_PREFIX DST_PREFIX CONCURRENCY</c>;
/// prints the seconds the copy took (listing excluded, as the pipeline's planning is). No processing, no ledger, no cluster.
/// </remarks>
public static class S3Floor
{
    public static async Task<int> RunAsync(string[] args)
    {
        if (args.Length != 6)
        {
            Console.Error.WriteLine("usage: s3-floor ENDPOINT BUCKET SRC_PREFIX DST_PREFIX CONCURRENCY");
            return 2;
        }

        string bucket = args[2];
        string source = args[3];
        string destination = args[4];
        int concurrency = int.Parse(args[5], CultureInfo.InvariantCulture);
        using var client = new AmazonS3Client(
            new BasicAWSCredentials(Environment.GetEnvironmentVariable("AWS_ACCESS_KEY_ID") ?? "bench", Environment.GetEnvironmentVariable("AWS_SECRET_ACCESS_KEY") ?? "bench"),
            new AmazonS3Config { ServiceURL = args[1], ForcePathStyle = true, AuthenticationRegion = "us-east-1" });
        var keys = new List<string>();
        var request = new ListObjectsV2Request { BucketName = bucket, Prefix = source };
        ListObjectsV2Response page;
        do
        {
            page = await client.ListObjectsV2Async(request);
            keys.AddRange((page.S3Objects ?? []).Select(o => o.Key));
            request.ContinuationToken = page.NextContinuationToken;
        }
        while (page.IsTruncated == true);

        var clock = Stopwatch.StartNew();
        await Parallel.ForEachAsync(keys, new ParallelOptions { MaxDegreeOfParallelism = concurrency }, async (key, ct) =>
        {
            using GetObjectResponse get = await client.GetObjectAsync(bucket, key, ct);
            using var body = new MemoryStream(checked((int)get.ContentLength));
            await get.ResponseStream.CopyToAsync(body, ct);
            body.Position = 0;
            await client.PutObjectAsync(new PutObjectRequest { BucketName = bucket, Key = destination + key[source.Length..], InputStream = body }, ct);
        });
        Console.WriteLine(clock.Elapsed.TotalSeconds.ToString("F3", CultureInfo.InvariantCulture));
        return 0;
    }
}
