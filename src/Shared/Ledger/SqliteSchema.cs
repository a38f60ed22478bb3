namespace PosCuda.Shared.Ledger;

/// <summary>The SQLite ledger's versioned migrations, applied in order, each once.</summary>
internal static class SqliteSchema
{
    /// <summary>The database clock: milliseconds since the Unix epoch, stable within one statement.</summary>
    public const string Now = "CAST(ROUND((julianday('now') - 2440587.5) * 86400000.0) AS INTEGER)";

    /// <summary>Creates the migration table if it is missing.</summary>
    public const string Bootstrap = $"""
        CREATE TABLE IF NOT EXISTS schema_migrations (
            version INTEGER PRIMARY KEY,
            applied_at INTEGER NOT NULL DEFAULT ({Now}))
        """;

    /// <summary>The migrations; element i is version i + 1. Append only: never edit one that has shipped.</summary>
    public static readonly IReadOnlyList<string> Migrations =
    [
        """
        CREATE TABLE jobs (
            job_id TEXT PRIMARY KEY,
            state TEXT NOT NULL CHECK (state IN ('planning', 'running', 'completed')),
            source TEXT NOT NULL,
            destination TEXT NOT NULL,
            label_rule TEXT NOT NULL,
            spec TEXT NOT NULL,
            taps INTEGER NOT NULL,
            patch_length INTEGER NOT NULL,
            blur REAL NOT NULL,
            window_length INTEGER NOT NULL,
            mode TEXT NOT NULL,
            key_id TEXT NOT NULL,
            key_version INTEGER NOT NULL,
            max_attempts INTEGER NOT NULL CHECK (max_attempts >= 1),
            trace_parent TEXT,
            created_at INTEGER NOT NULL,
            started_at INTEGER,
            finished_at INTEGER);
        CREATE INDEX jobs_unfinished_ix ON jobs (source, destination) WHERE state <> 'completed';

        CREATE TABLE batches (
            batch_id INTEGER PRIMARY KEY,
            job_id TEXT NOT NULL REFERENCES jobs (job_id) ON DELETE CASCADE,
            label TEXT NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('planned', 'pending', 'leased', 'done', 'dead')),
            attempts INTEGER NOT NULL DEFAULT 0,
            lease_token TEXT,
            lease_owner TEXT,
            lease_expires_at INTEGER,
            last_error TEXT,
            object_count INTEGER NOT NULL,
            completed_at INTEGER);
        CREATE INDEX batches_pending_ix ON batches (batch_id) WHERE state = 'pending';
        CREATE INDEX batches_job_pending_ix ON batches (job_id, batch_id) WHERE state = 'pending';
        CREATE INDEX batches_leased_ix ON batches (lease_expires_at) WHERE state = 'leased';
        CREATE INDEX batches_job_ix ON batches (job_id, label);

        CREATE TABLE objects (
            object_id INTEGER PRIMARY KEY,
            job_id TEXT NOT NULL,
            batch_id INTEGER,
            key TEXT NOT NULL,
            label TEXT NOT NULL,
            size INTEGER NOT NULL,
            source_etag TEXT,
            status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'done', 'failed', 'dead', 'skipped')),
            reason TEXT,
            key_version INTEGER,
            output_etag TEXT,
            bytes INTEGER NOT NULL DEFAULT 0,
            clipped INTEGER NOT NULL DEFAULT 0,
            completed_at INTEGER,
            UNIQUE (job_id, key));
        CREATE INDEX objects_batch_ix ON objects (batch_id);

        CREATE TABLE coordinator_lease (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            holder TEXT NOT NULL,
            expires_at INTEGER NOT NULL);
        """,
        """
        -- poscuda-v2's spectral code parameters (ProtectionParameters.Code.ToText()); empty for poscuda-v1 jobs.
        ALTER TABLE jobs ADD COLUMN spec_options TEXT NOT NULL DEFAULT '';
        """,
        """
        -- Rekey, restore and restore records (JobOperation.ToText()); empty for a plain protect job.
        ALTER TABLE jobs ADD COLUMN operation TEXT NOT NULL DEFAULT '';
        """,
    ];
}
