using PosCuda.Testing.Postgres;
using Xunit.Abstractions;

namespace PosCuda.Pipeline.Tests.Distributed;

/// <summary>What every distributed test class is given: the collection's PostgreSQL server, its S3 server, keyring
/// and sample (<see cref="DistributedFixture"/>), and the running test's output.</summary>
public abstract class DistributedTestBase
{
    protected DistributedTestBase(PostgresServer postgres, DistributedFixture fixture, ITestOutputHelper output)
    {
        Postgres = postgres;
        Fixture = fixture;
        Output = output;
    }

    /// <summary>The collection's PostgreSQL server.</summary>
    protected PostgresServer Postgres { get; }

    /// <summary>The collection's moto server, keyring and sample clips.</summary>
    protected DistributedFixture Fixture { get; }

    /// <summary>The running test's output.</summary>
    protected ITestOutputHelper Output { get; }
}
