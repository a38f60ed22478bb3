using PosCuda.Testing.Postgres;

namespace PosCuda.Pipeline.Tests.Distributed;

/// <summary>Every PostgreSQL-using pipeline test runs in this collection, one class at a time, on one server, one S3 server and one keyring.</summary>
[CollectionDefinition(PostgresServer.CollectionName)]
public sealed class PostgresCollection : ICollectionFixture<PostgresServer>, ICollectionFixture<DistributedFixture>;
