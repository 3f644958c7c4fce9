//! The state store's schema: its migrations, and how a `clusters` row is decoded.

use std::path::Path;

use super::{ClusterRecord, ClusterStatus, StateError, lease_is_live, now_s};

/// The migrations, in order: entry `n` brings a database from version `n` to `n + 1`.
pub(super) const MIGRATIONS: &[&str] = &[
    // Version 1.
    "CREATE TABLE clusters (
        name TEXT PRIMARY KEY,
        cluster_hash TEXT NOT NULL UNIQUE,
        status TEXT NOT NULL CHECK (status IN ('INIT', 'UP', 'STOPPED')),
        launched TEXT,
        nodes TEXT NOT NULL DEFAULT '[]',
        autostop TEXT,
        owner TEXT NOT NULL,
        lease_holder TEXT,
        lease_until INTEGER,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        last_use_at INTEGER NOT NULL
    );
    CREATE TABLE cluster_history (
        cluster_hash TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        launched TEXT,
        usage_intervals TEXT NOT NULL DEFAULT '[]',
        created_at INTEGER NOT NULL
    );
    CREATE TABLE cluster_events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        cluster_hash TEXT NOT NULL,
        name TEXT NOT NULL,
        from_status TEXT,
        to_status TEXT,
        reason TEXT NOT NULL,
        at INTEGER NOT NULL
    );
    CREATE INDEX cluster_events_name ON cluster_events (name, id);",
    // Version 2: the job queue of each cluster incarnation.
    "CREATE TABLE jobs (
        cluster_hash TEXT NOT NULL,
        job_id INTEGER NOT NULL,
        cluster TEXT NOT NULL,
        name TEXT,
        status TEXT NOT NULL CHECK (status IN ('PENDING', 'SETTING_UP', 'RUNNING', 'SUCCEEDED',
            'FAILED', 'FAILED_SETUP', 'CANCELLED')),
        exit_code INTEGER,
        message TEXT,
        num_nodes INTEGER NOT NULL,
        node_ranks TEXT NOT NULL DEFAULT '[]',
        run_timestamp TEXT NOT NULL,
        task_id TEXT NOT NULL,
        payload TEXT NOT NULL,
        submitted_at INTEGER NOT NULL,
        started_at INTEGER,
        ended_at INTEGER,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (cluster_hash, job_id)
    );
    CREATE INDEX jobs_status ON jobs (cluster_hash, status, job_id);",
    // Version 3: a job can be CANCELLING (SQLite cannot alter a CHECK: the table is copied).
    "CREATE TABLE jobs_v3 (
        cluster_hash TEXT NOT NULL,
        job_id INTEGER NOT NULL,
        cluster TEXT NOT NULL,
        name TEXT,
        status TEXT NOT NULL CHECK (status IN ('PENDING', 'SETTING_UP', 'RUNNING', 'SUCCEEDED',
            'FAILED', 'FAILED_SETUP', 'CANCELLED', 'CANCELLING')),
        exit_code INTEGER,
        message TEXT,
        num_nodes INTEGER NOT NULL,
        node_ranks TEXT NOT NULL DEFAULT '[]',
        run_timestamp TEXT NOT NULL,
        task_id TEXT NOT NULL,
        payload TEXT NOT NULL,
        submitted_at INTEGER NOT NULL,
        started_at INTEGER,
        ended_at INTEGER,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (cluster_hash, job_id)
    );
    INSERT INTO jobs_v3 SELECT * FROM jobs;
    DROP TABLE jobs;
    ALTER TABLE jobs_v3 RENAME TO jobs;
    CREATE INDEX jobs_status ON jobs (cluster_hash, status, job_id);",
    // Version 4: every failed provisioning attempt, kept with the cluster incarnation it was
    // for (also when the launch ended UP, and after the cluster is gone).
    "CREATE TABLE launch_attempts (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        cluster_hash TEXT NOT NULL,
        name TEXT NOT NULL,
        attempt TEXT NOT NULL,
        at INTEGER NOT NULL
    );
    CREATE INDEX launch_attempts_hash ON launch_attempts (cluster_hash, id);",
    // Version 5: the store's identity, also kept beside it (`state.id`), so that a store that
    // was emptied, replaced or deleted is noticed instead of read as "no clusters".
    "CREATE TABLE store_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    INSERT INTO store_meta (key, value)
        VALUES ('store_id', lower(hex(randomblob(16))));",
];

pub(super) struct RawCluster {
    name: String,
    cluster_hash: String,
    status: String,
    launched: Option<String>,
    nodes: String,
    autostop: Option<String>,
    owner: String,
    created_at: i64,
    updated_at: i64,
    last_use_at: i64,
    lease_holder: Option<String>,
    lease_until: Option<i64>,
}

impl RawCluster {
    pub(super) fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(RawCluster {
            name: r.get(0)?,
            cluster_hash: r.get(1)?,
            status: r.get(2)?,
            launched: r.get(3)?,
            nodes: r.get(4)?,
            autostop: r.get(5)?,
            owner: r.get(6)?,
            created_at: r.get(7)?,
            updated_at: r.get(8)?,
            last_use_at: r.get(9)?,
            lease_holder: r.get(10)?,
            lease_until: r.get(11)?,
        })
    }

    pub(super) fn decode(self, path: &Path) -> Result<ClusterRecord, StateError> {
        let name = self.name;
        let err = |column, source| StateError::Json {
            path: path.to_path_buf(),
            column,
            cluster: name.clone(),
            source,
        };
        Ok(ClusterRecord {
            launched: self
                .launched
                .map(|l| serde_json::from_str(&l))
                .transpose()
                .map_err(|e| err("launched", e))?,
            nodes: serde_json::from_str(&self.nodes).map_err(|e| err("nodes", e))?,
            autostop: self
                .autostop
                .map(|a| serde_json::from_str(&a))
                .transpose()
                .map_err(|e| err("autostop", e))?,
            status: ClusterStatus::parse(&self.status),
            failed_attempts: Vec::new(),
            cluster_hash: self.cluster_hash,
            owner: self.owner,
            created_at: self.created_at,
            updated_at: self.updated_at,
            last_use_at: self.last_use_at,
            provisioning_by: match (self.lease_holder, self.lease_until) {
                (Some(h), Some(until)) if lease_is_live(&h, until, now_s()) => Some(h),
                _ => None,
            },
            name,
        })
    }
}
