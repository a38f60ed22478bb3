using System.Net;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;

namespace PosCuda.Shared.Storage;

// Conditional writes (issue 15: re-keying must not be undone by a late writer): S3 conditional PUT.
public sealed partial class S3ObjectStore
{
    /// <inheritdoc />
    public async Task<ObjectHead?> HeadAsync(string key, CancellationToken cancellationToken)
    {
        ObjectKeys.ThrowIf(key, ObjectKeys.S3Reason(_location.Prefix, key));
        var request = new GetObjectMetadataRequest { BucketName = _location.Bucket, Key = _location.Prefix + key };
        try
        {
            return await ExecuteAsync("HEAD", key, async token =>
            {
                GetObjectMetadataResponse response = await _client.GetObjectMetadataAsync(request, token).ConfigureAwait(false);
                return new ObjectHead(Unquote(response.ETag), UserMetadata(response.Metadata));
            }, cancellationToken).ConfigureAwait(false);
        }
        catch (PosCudaException e) when (e.InnerException is AmazonServiceException { StatusCode: HttpStatusCode.NotFound })
        {
            return null;
        }
    }

    /// <inheritdoc />
    public async Task<string?> PutAsync(
        string key, ReadOnlyMemory<byte> data, IReadOnlyDictionary<string, string> metadata, WriteCondition condition, CancellationToken cancellationToken)
    {
        ObjectKeys.ThrowIf(key, ObjectKeys.S3Reason(_location.Prefix, key));
        ArgumentNullException.ThrowIfNull(metadata);
        ArgumentNullException.ThrowIfNull(condition);
        try
        {
            return await ExecuteAsync("PUT", key, async token =>
            {
                using MemoryStream body = CreateReadStream(data);
                var request = new PutObjectRequest
                {
                    BucketName = _location.Bucket,
                    Key = _location.Prefix + key,
                    InputStream = body,
                    AutoCloseStream = false,
                };
                if (condition.IfMatch is { } etag)
                {
                    request.IfMatch = "\"" + etag + "\"";
                }
                else
                {
                    request.IfNoneMatch = "*";
                }

                foreach (KeyValuePair<string, string> pair in metadata)
                {
                    request.Metadata.Add(pair.Key, pair.Value);
                }

                PutObjectResponse response = await _client.PutObjectAsync(request, token).ConfigureAwait(false);
                return Unquote(response.ETag);
            }, cancellationToken).ConfigureAwait(false);
        }
        catch (PosCudaException e) when (e.InnerException is AmazonServiceException
            { StatusCode: HttpStatusCode.PreconditionFailed or HttpStatusCode.Conflict or HttpStatusCode.NotFound })
        {
            // 412: the tag no longer matches (or the object exists); 409: a concurrent conditional write won; 404: it is gone.
            throw new PreconditionFailedException(key, condition, e);
        }
    }

    /// <summary>
    /// Writes a patched copy of <paramref name="source"/> (as <see cref="PutPatchedAsync(string, ObjectReader, IReadOnlyList{ObjectPatch}, IReadOnlyDictionary{string, string}, CancellationToken)"/>)
    /// only if <paramref name="condition"/> holds when the write lands: on the PUT of a short object, on the completion of a multipart upload.
    /// </summary>
    /// <exception cref="PreconditionFailedException">The destination is no longer what the condition names; nothing was written.</exception>
    /// <exception cref="SourceChangedException">The source changed since the reader was opened; nothing was written.</exception>
    public Task<PatchedWrite> PutPatchedAsync(
        string key, ObjectReader source, IReadOnlyList<ObjectPatch> patches, IReadOnlyDictionary<string, string> metadata,
        WriteCondition condition, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(condition);
        return PutPatchedCoreAsync(key, source, patches, metadata, condition, cancellationToken);
    }

    /// <summary>User metadata from a response, names without the <c>x-amz-meta-</c> prefix.</summary>
    private static Dictionary<string, string> UserMetadata(MetadataCollection metadata)
    {
        var result = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (string name in metadata.Keys)
        {
            string shortName = name.StartsWith("x-amz-meta-", StringComparison.OrdinalIgnoreCase) ? name["x-amz-meta-".Length..] : name;
            result[shortName] = metadata[name];
        }

        return result;
    }
}
