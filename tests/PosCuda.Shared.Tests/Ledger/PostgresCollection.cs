using PosCuda.Testing.Postgres;

namespace PosCuda.Shared.Tests.Ledger;

/// <summary>Every test class in this collection shares one throwaway PostgreSQL server.</summary>
[CollectionDefinition(PostgresServer.CollectionName)]
public sealed class PostgresCollection : ICollectionFixture<PostgresServer>;
