//! The state store: every cluster sky made, in SQLite.
//!
//! One file, `<state dir>/state.db` (default `~/.sky`, or `SKY_STATE_DIR`), in WAL mode so that
//! a `status` in one process never blocks a launch in another. The schema is versioned
//! ([`SCHEMA_VERSION`]) and migrated forward on open; structured columns are JSON (serde), never
//! opaque blobs, so other tools can read them.
//!
//! # Tables
//! - `clusters`: one row per live cluster: status (`INIT`, `UP`, `STOPPED`), what was launched
//!   ([`LaunchedResources`]), its nodes with provider ids and IPs, autostop, owner, and a
//!   provisioning lease that keeps two processes from provisioning the same name at once.
//! - `cluster_history`: one row per cluster ever made, with its usage intervals, for the cost
//!   report; kept after `down`.
//! - `cluster_events`: every status transition with its reason.
//! - `jobs` (version 2): each cluster's job queue ([`crate::jobs::JobRecord`]): status, exit
//!   code, times, the node ranks a job runs on, and what it runs (task envs and scripts, the
//!   *names* of its secrets — never their values).
//!
//! # Crash safety
//! The broker writes a cluster's row as `INIT` *before* its first provider call and records
//! every instance as soon as the provider reports it, so a process killed at any point leaves a
//! row that `status --refresh` can reconcile against the provider.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use sky_core::provision::InstanceInfo;

mod records;
mod schema;

pub use records::{
    AutostopSetting, ClusterEvent, ClusterRecord, ClusterStatus, HistoryRecord, LaunchedResources,
};
use schema::{MIGRATIONS, RawCluster};

/// The schema version this build writes. Older databases are migrated on open; newer ones
/// are refused.
pub const SCHEMA_VERSION: i64 = 5;

/// How long a provisioning lease lasts without renewal, in seconds.
pub const LEASE_SECONDS: i64 = 600;

/// A state store failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StateError {
    /// SQLite failed.
    #[error("state database {path}: {source}")]
    Sqlite {
        /// The database file.
        path: PathBuf,
        /// The SQLite error.
        #[source]
        source: rusqlite::Error,
    },
    /// The state directory could not be created.
    #[error("cannot create state directory {path}: {source}")]
    Io {
        /// The directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A JSON column could not be read.
    #[error("state database {path}: column {column} of cluster {cluster:?} is not valid: {source}")]
    Json {
        /// The database file.
        path: PathBuf,
        /// The column.
        column: &'static str,
        /// The cluster.
        cluster: String,
        /// The serde error.
        #[source]
        source: serde_json::Error,
    },
    /// The database was written by a newer sky.
    #[error(
        "state database {path} has schema version {found}, newer than this sky's {SCHEMA_VERSION}; upgrade sky"
    )]
    TooNew {
        /// The database file.
        path: PathBuf,
        /// Its version.
        found: i64,
    },
    /// The database is not the one this state directory had: it was emptied, replaced or
    /// deleted (its identity differs from the one kept beside it in `state.id`).
    #[error(
        "state database {path} is not the store this directory had (store {expected}, found \
         {found}): it was emptied, replaced or deleted, so the clusters it recorded are not \
         listed; restore it from a backup, or remove {} to start a new store (instances the \
         old one launched are then found by `sky status --refresh` only as orphans)",
        id_file.display()
    )]
    Replaced {
        /// The database file.
        path: PathBuf,
        /// The identity file.
        id_file: PathBuf,
        /// The identity it records.
        expected: String,
        /// The database's identity.
        found: String,
    },
    /// Another process holds the provisioning lease of this cluster.
    #[error(
        "cluster {name:?} is being provisioned by another process ({holder}); wait for it or run `sky status --refresh`"
    )]
    Busy {
        /// The cluster.
        name: String,
        /// Who holds the lease.
        holder: String,
    },
    /// No such cluster.
    #[error("no cluster named {name:?}")]
    NotFound {
        /// The cluster.
        name: String,
    },
}

/// The SQLite state store. Cheap to share behind an `Arc`; calls are serialised on one
/// connection, and other processes see changes at once (WAL).
#[derive(Debug)]
pub struct StateStore {
    path: PathBuf,
    conn: Mutex<Connection>,
}

/// Unix seconds now.
pub fn now_s() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// A provisioning-lease holder id for this process: `<host>:<pid>:<nonce>`.
pub fn lease_holder_id(nonce: u64) -> String {
    let pid = std::process::id();
    format!(
        "{}:{pid}:{}:{nonce:x}",
        host_name(),
        process_start(pid).unwrap_or(0)
    )
}

/// When process `pid` started (clock ticks after boot, `/proc/<pid>/stat` field 22), so that
/// a holder id names one process even after its pid is reused.
fn process_start(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces: count after it.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// Whether a lease still binds. A holder on this host binds exactly while its process lives
/// (the same process: pid and start time), whatever the expiry says: a crashed process's
/// lease is taken over at once, and a live one's never, however long its launch takes. A
/// holder on another host binds until the lease expires; it renews the lease while it works
/// ([`StateStore::renew_lease`]).
fn lease_is_live(holder: &str, until: i64, now: i64) -> bool {
    let parts: Vec<&str> = holder.split(':').collect();
    if let [host, pid, rest @ ..] = parts.as_slice()
        && *host == host_name()
        && let Ok(pid) = pid.parse::<u32>()
        && Path::new("/proc/self").exists()
    {
        // `host:pid:start:nonce`; older holders were `host:pid:nonce`.
        let start = match rest {
            [start, _nonce] => start.parse::<u64>().ok().filter(|s| *s != 0),
            _ => None,
        };
        return match (process_start(pid), start) {
            (None, _) => false,
            (Some(now_start), Some(start)) => now_start == start,
            (Some(_), None) => true,
        };
    }
    until > now
}

pub use sky_exec::sqlite::set_busy_timeout_and_wal;

impl StateStore {
    /// The default state directory: `SKY_STATE_DIR`, else `~/.sky`.
    pub fn default_dir() -> PathBuf {
        if let Some(d) = std::env::var_os("SKY_STATE_DIR") {
            return PathBuf::from(d);
        }
        dirs::home_dir()
            .unwrap_or_else(|| PathBuf::from("."))
            .join(".sky")
    }

    /// Opens (creating and migrating as needed) `<dir>/state.db`.
    pub fn open(dir: &Path) -> Result<Self, StateError> {
        sky_exec::sqlite::create_private_dir(dir).map_err(|source| StateError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let path = dir.join("state.db");
        sky_exec::sqlite::ensure_private_file(&path).map_err(|source| StateError::Io {
            path: path.clone(),
            source,
        })?;
        let conn = Connection::open(&path).map_err(|source| StateError::Sqlite {
            path: path.clone(),
            source,
        })?;
        let store = Self::init(path, conn)?;
        store.check_identity(&dir.join("state.id"))?;
        Ok(store)
    }

    /// The store's identity (a random id made with it).
    pub fn store_id(&self) -> Result<String, StateError> {
        self.with(|c| {
            c.query_row(
                "SELECT value FROM store_meta WHERE key = 'store_id'",
                [],
                |r| r.get(0),
            )
        })
    }

    /// Compares the store's identity with the one kept in `id_file` (written on first use).
    fn check_identity(&self, id_file: &Path) -> Result<(), StateError> {
        let found = self.store_id()?;
        let io = |source| StateError::Io {
            path: id_file.to_path_buf(),
            source,
        };
        match std::fs::read_to_string(id_file) {
            Ok(expected) if expected.trim() == found => Ok(()),
            Ok(expected) if !expected.trim().is_empty() => Err(StateError::Replaced {
                path: self.path.clone(),
                id_file: id_file.to_path_buf(),
                expected: expected.trim().to_string(),
                found,
            }),
            Ok(_) => std::fs::write(id_file, format!("{found}\n")).map_err(io),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                sky_exec::sqlite::ensure_private_file(id_file).map_err(io)?;
                std::fs::write(id_file, format!("{found}\n")).map_err(io)
            }
            Err(e) => Err(io(e)),
        }
    }

    /// An in-memory store, for tests and dry runs.
    pub fn open_in_memory() -> Result<Self, StateError> {
        let path = PathBuf::from(":memory:");
        let conn = Connection::open_in_memory().map_err(|source| StateError::Sqlite {
            path: path.clone(),
            source,
        })?;
        Self::init(path, conn)
    }

    fn init(path: PathBuf, mut conn: Connection) -> Result<Self, StateError> {
        let sql = |source| StateError::Sqlite {
            path: path.clone(),
            source,
        };
        set_busy_timeout_and_wal(&conn, std::time::Duration::from_secs(10)).map_err(sql)?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(sql)?;
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql)?;
        let version: i64 = tx
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(sql)?;
        if version > SCHEMA_VERSION {
            return Err(StateError::TooNew {
                path,
                found: version,
            });
        }
        for (i, m) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            tx.execute_batch(m).map_err(sql)?;
            tx.pragma_update(None, "user_version", (i + 1) as i64)
                .map_err(sql)?;
        }
        tx.commit().map_err(sql)?;
        Ok(StateStore {
            path,
            conn: Mutex::new(conn),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn with<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<T>,
    ) -> Result<T, StateError> {
        let mut conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut conn).map_err(|source| StateError::Sqlite {
            path: self.path.clone(),
            source,
        })
    }

    /// Takes the provisioning lease of `name` for `holder`, creating the row as `INIT` if the
    /// cluster does not exist. Fails with [`StateError::Busy`] while another holder's lease is
    /// live. Returns the record and whether it was created.
    pub fn begin_provision(
        &self,
        name: &str,
        holder: &str,
        owner: &str,
    ) -> Result<(ClusterRecord, bool), StateError> {
        let now = now_s();
        let outcome = self.with(|conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let lease: Option<(Option<String>, Option<i64>)> = tx
                .query_row("SELECT lease_holder, lease_until FROM clusters WHERE name = ?1", [name], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .optional()?;
            let created = match lease {
                Some((Some(h), Some(until))) if h != holder && lease_is_live(&h, until, now) => {
                    return Ok(Err(h));
                }
                Some(_) => {
                    tx.execute(
                        "UPDATE clusters SET lease_holder = ?2, lease_until = ?3, updated_at = ?4 WHERE name = ?1",
                        params![name, holder, now + LEASE_SECONDS, now],
                    )?;
                    false
                }
                None => {
                    // Unique among every incarnation ever recorded: a name launched, torn
                    // down and launched again within a second by one process gets the next
                    // free stamp (the form, and so the on-cloud name's length, stays).
                    let pid = std::process::id() % 0x10000;
                    let mut stamp = now;
                    let hash = loop {
                        let hash = format!("{name}-{stamp:x}{pid:04x}");
                        let taken: bool = tx.query_row(
                            "SELECT EXISTS (SELECT 1 FROM cluster_history WHERE cluster_hash = ?1)",
                            params![hash],
                            |r| r.get(0),
                        )?;
                        if !taken {
                            break hash;
                        }
                        stamp += 1;
                    };
                    tx.execute(
                        "INSERT INTO clusters (name, cluster_hash, status, owner, lease_holder, lease_until,
                             created_at, updated_at, last_use_at)
                         VALUES (?1, ?2, 'INIT', ?3, ?4, ?5, ?6, ?6, ?6)",
                        params![name, hash, owner, holder, now + LEASE_SECONDS, now],
                    )?;
                    tx.execute(
                        "INSERT INTO cluster_history (cluster_hash, name, created_at) VALUES (?1, ?2, ?3)",
                        params![hash, name, now],
                    )?;
                    tx.execute(
                        "INSERT INTO cluster_events (cluster_hash, name, from_status, to_status, reason, at)
                         VALUES (?1, ?2, NULL, 'INIT', 'provisioning started', ?3)",
                        params![hash, name, now],
                    )?;
                    true
                }
            };
            tx.commit()?;
            Ok(Ok(created))
        })?;
        match outcome {
            Err(holder) => Err(StateError::Busy {
                name: name.to_string(),
                holder,
            }),
            Ok(created) => {
                let rec = self.get(name)?.ok_or_else(|| StateError::NotFound {
                    name: name.to_string(),
                })?;
                Ok((rec, created))
            }
        }
    }

    /// Extends `holder`'s provisioning lease on `name` by [`LEASE_SECONDS`] from now; `false`
    /// when it no longer holds it.
    pub fn renew_lease(&self, name: &str, holder: &str) -> Result<bool, StateError> {
        let n = self.with(|c| {
            c.execute(
                "UPDATE clusters SET lease_until = ?3 WHERE name = ?1 AND lease_holder = ?2",
                params![name, holder, now_s() + LEASE_SECONDS],
            )
        })?;
        Ok(n > 0)
    }

    /// Releases `holder`'s provisioning lease on `name` (no-op if it holds none).
    pub fn end_provision(&self, name: &str, holder: &str) -> Result<(), StateError> {
        self.with(|c| {
            c.execute(
                "UPDATE clusters SET lease_holder = NULL, lease_until = NULL WHERE name = ?1 AND lease_holder = ?2",
                params![name, holder],
            )
        })?;
        Ok(())
    }

    /// Records what is being launched.
    pub fn set_launched(&self, name: &str, launched: &LaunchedResources) -> Result<(), StateError> {
        let json = serde_json::to_string(launched).unwrap_or_default();
        let n = self.with(|c| {
            let tx = c.transaction()?;
            let n = tx.execute(
                "UPDATE clusters SET launched = ?2, updated_at = ?3 WHERE name = ?1",
                params![name, json, now_s()],
            )?;
            tx.execute(
                "UPDATE cluster_history SET launched = ?2
                 WHERE cluster_hash = (SELECT cluster_hash FROM clusters WHERE name = ?1)",
                params![name, json],
            )?;
            tx.commit()?;
            Ok(n)
        })?;
        self.found(name, n)
    }

    /// Records the nodes the provider reported (replacing the previous list).
    pub fn set_nodes(&self, name: &str, nodes: &[InstanceInfo]) -> Result<(), StateError> {
        let json = serde_json::to_string(nodes).unwrap_or_else(|_| "[]".into());
        let n = self.with(|c| {
            c.execute(
                "UPDATE clusters SET nodes = ?2, updated_at = ?3 WHERE name = ?1",
                params![name, json, now_s()],
            )
        })?;
        self.found(name, n)
    }

    /// Sets the autostop setting (`None` turns it off).
    pub fn set_autostop(
        &self,
        name: &str,
        autostop: Option<AutostopSetting>,
    ) -> Result<(), StateError> {
        let json = autostop.map(|a| serde_json::to_string(&a).unwrap_or_default());
        let n = self.with(|c| {
            c.execute(
                "UPDATE clusters SET autostop = ?2, updated_at = ?3 WHERE name = ?1",
                params![name, json, now_s()],
            )
        })?;
        self.found(name, n)
    }

    /// Marks the cluster used now (resets its autostop idle clock).
    pub fn touch(&self, name: &str) -> Result<(), StateError> {
        let n = self.with(|c| {
            c.execute(
                "UPDATE clusters SET last_use_at = ?2 WHERE name = ?1",
                params![name, now_s()],
            )
        })?;
        self.found(name, n)
    }

    /// Changes the status, logging an event with `reason` and opening or closing the usage
    /// interval. A change to the same status only logs nothing.
    pub fn set_status(
        &self,
        name: &str,
        status: ClusterStatus,
        reason: &str,
    ) -> Result<(), StateError> {
        let now = now_s();
        let found = self.with(|c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let row: Option<(String, String)> = tx
                .query_row("SELECT cluster_hash, status FROM clusters WHERE name = ?1", [name], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .optional()?;
            let Some((hash, old)) = row else { return Ok(false) };
            let old = ClusterStatus::parse(&old);
            if old != status {
                tx.execute(
                    "UPDATE clusters SET status = ?2, updated_at = ?3 WHERE name = ?1",
                    params![name, status.as_str(), now],
                )?;
                tx.execute(
                    "INSERT INTO cluster_events (cluster_hash, name, from_status, to_status, reason, at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![hash, name, old.as_str(), status.as_str(), reason, now],
                )?;
                let intervals: String = tx.query_row(
                    "SELECT usage_intervals FROM cluster_history WHERE cluster_hash = ?1",
                    [&hash],
                    |r| r.get(0),
                )?;
                let mut iv: Vec<(i64, Option<i64>)> = serde_json::from_str(&intervals).unwrap_or_default();
                let open = iv.last().is_some_and(|(_, e)| e.is_none());
                if status == ClusterStatus::Up && !open {
                    iv.push((now, None));
                } else if status != ClusterStatus::Up
                    && open
                    && let Some(last) = iv.last_mut()
                {
                    last.1 = Some(now);
                }
                tx.execute(
                    "UPDATE cluster_history SET usage_intervals = ?2 WHERE cluster_hash = ?1",
                    params![hash, serde_json::to_string(&iv).unwrap_or_else(|_| "[]".into())],
                )?;
            }
            tx.commit()?;
            Ok(true)
        })?;
        self.found(name, usize::from(found))
    }

    /// Deletes the cluster's row (after its instances are verified gone), closing its usage
    /// interval and logging the reason. History is kept.
    pub fn remove(&self, name: &str, reason: &str) -> Result<(), StateError> {
        let now = now_s();
        let found = self.with(|c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let row: Option<(String, String)> = tx
                .query_row(
                    "SELECT cluster_hash, status FROM clusters WHERE name = ?1",
                    [name],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            let Some((hash, old)) = row else {
                return Ok(false);
            };
            let intervals: String = tx.query_row(
                "SELECT usage_intervals FROM cluster_history WHERE cluster_hash = ?1",
                [&hash],
                |r| r.get(0),
            )?;
            let mut iv: Vec<(i64, Option<i64>)> =
                serde_json::from_str(&intervals).unwrap_or_default();
            if let Some(last) = iv.last_mut()
                && last.1.is_none()
            {
                last.1 = Some(now);
            }
            tx.execute(
                "UPDATE cluster_history SET usage_intervals = ?2 WHERE cluster_hash = ?1",
                params![
                    hash,
                    serde_json::to_string(&iv).unwrap_or_else(|_| "[]".into())
                ],
            )?;
            tx.execute(
                "INSERT INTO cluster_events (cluster_hash, name, from_status, to_status, reason, at)
                 VALUES (?1, ?2, ?3, NULL, ?4, ?5)",
                params![hash, name, old, reason, now],
            )?;
            tx.execute("DELETE FROM clusters WHERE name = ?1", [name])?;
            tx.commit()?;
            Ok(true)
        })?;
        self.found(name, usize::from(found))
    }

    fn found(&self, name: &str, n: usize) -> Result<(), StateError> {
        if n == 0 {
            Err(StateError::NotFound {
                name: name.to_string(),
            })
        } else {
            Ok(())
        }
    }

    const CLUSTER_COLUMNS: &'static str = "name, cluster_hash, status, launched, nodes, autostop, owner, created_at, updated_at, last_use_at, \
         lease_holder, lease_until";

    /// One cluster.
    pub fn get(&self, name: &str) -> Result<Option<ClusterRecord>, StateError> {
        let sql = format!(
            "SELECT {} FROM clusters WHERE name = ?1",
            Self::CLUSTER_COLUMNS
        );
        let raw = self.with(|c| c.query_row(&sql, [name], RawCluster::from_row).optional())?;
        raw.map(|r| self.with_attempts(r.decode(&self.path)?))
            .transpose()
    }

    fn with_attempts(&self, mut rec: ClusterRecord) -> Result<ClusterRecord, StateError> {
        rec.failed_attempts = self.attempts(&rec.cluster_hash)?;
        Ok(rec)
    }

    /// Records a failed provisioning attempt of cluster incarnation `cluster_hash` (named
    /// `name`), as it happens.
    pub fn record_attempt(
        &self,
        cluster_hash: &str,
        name: &str,
        attempt: &crate::failover::FailedAttempt,
    ) -> Result<(), StateError> {
        let json = serde_json::to_string(attempt).map_err(|source| StateError::Json {
            path: self.path.clone(),
            column: "attempt",
            cluster: name.to_string(),
            source,
        })?;
        self.with(|c| {
            c.execute(
                "INSERT INTO launch_attempts (cluster_hash, name, attempt, at) VALUES (?1, ?2, ?3, ?4)",
                params![cluster_hash, name, json, attempt.at],
            )
        })?;
        Ok(())
    }

    /// The failed provisioning attempts of cluster incarnation `cluster_hash`, oldest first
    /// (kept after the cluster is gone).
    pub fn attempts(
        &self,
        cluster_hash: &str,
    ) -> Result<Vec<crate::failover::FailedAttempt>, StateError> {
        let rows: Vec<(String, String)> = self.with(|c| {
            let mut st = c.prepare(
                "SELECT name, attempt FROM launch_attempts WHERE cluster_hash = ?1 ORDER BY id",
            )?;
            let rows = st.query_map([cluster_hash], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
        })?;
        rows.into_iter()
            .map(|(name, json)| {
                serde_json::from_str(&json).map_err(|source| StateError::Json {
                    path: self.path.clone(),
                    column: "attempt",
                    cluster: name,
                    source,
                })
            })
            .collect()
    }

    /// Every cluster, by name.
    pub fn list(&self) -> Result<Vec<ClusterRecord>, StateError> {
        let (records, damaged) = self.list_with_damage()?;
        for e in damaged {
            // One damaged row must not hide the others.
            tracing::warn!(error = %e, "skipping a cluster row that cannot be read");
        }
        Ok(records)
    }

    /// Every cluster, by name, and the error of each row that cannot be read (those rows are
    /// left out of the list, not fatal to it).
    pub fn list_with_damage(&self) -> Result<(Vec<ClusterRecord>, Vec<StateError>), StateError> {
        let sql = format!(
            "SELECT {} FROM clusters ORDER BY name",
            Self::CLUSTER_COLUMNS
        );
        let raws = self.with(|c| {
            let mut st = c.prepare(&sql)?;
            let rows = st.query_map([], RawCluster::from_row)?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
        })?;
        self.decode_all(raws)
    }

    fn decode_all(
        &self,
        raws: Vec<RawCluster>,
    ) -> Result<(Vec<ClusterRecord>, Vec<StateError>), StateError> {
        let mut records = Vec::with_capacity(raws.len());
        let mut damaged = Vec::new();
        for r in raws {
            match r.decode(&self.path) {
                Ok(rec) => records.push(self.with_attempts(rec)?),
                Err(e @ StateError::Json { .. }) => damaged.push(e),
                Err(e) => return Err(e),
            }
        }
        Ok((records, damaged))
    }

    /// The status events of `name` (all incarnations), oldest first.
    pub fn events(&self, name: &str) -> Result<Vec<ClusterEvent>, StateError> {
        self.with(|c| {
            let mut st = c.prepare(
                "SELECT name, cluster_hash, from_status, to_status, reason, at FROM cluster_events
                 WHERE name = ?1 ORDER BY id",
            )?;
            let rows = st.query_map([name], |r| {
                let from: Option<String> = r.get(2)?;
                let to: Option<String> = r.get(3)?;
                Ok(ClusterEvent {
                    name: r.get(0)?,
                    cluster_hash: r.get(1)?,
                    from: from.as_deref().map(ClusterStatus::parse),
                    to: to.as_deref().map(ClusterStatus::parse),
                    reason: r.get(4)?,
                    at: r.get(5)?,
                })
            })?;
            rows.collect()
        })
    }

    /// Every cluster ever made, oldest first.
    pub fn history(&self) -> Result<Vec<HistoryRecord>, StateError> {
        let raws: Vec<(String, String, Option<String>, String)> = self.with(|c| {
            let mut st = c.prepare(
                "SELECT cluster_hash, name, launched, usage_intervals FROM cluster_history ORDER BY created_at, cluster_hash",
            )?;
            let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
            rows.collect()
        })?;
        raws.into_iter()
            .map(|(hash, name, launched, iv)| {
                let json_err = |column, source| StateError::Json {
                    path: self.path.clone(),
                    column,
                    cluster: name.clone(),
                    source,
                };
                Ok(HistoryRecord {
                    launched: launched
                        .map(|l| serde_json::from_str(&l))
                        .transpose()
                        .map_err(|e| json_err("launched", e))?,
                    usage_intervals: serde_json::from_str(&iv)
                        .map_err(|e| json_err("usage_intervals", e))?,
                    cluster_hash: hash,
                    name: name.clone(),
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sky_core::CloudId;
    use sky_core::provision::InstanceState;

    fn node(rank: u32) -> InstanceInfo {
        InstanceInfo {
            id: format!("i-{rank}"),
            rank,
            state: InstanceState::Running,
            private_ip: Some(format!("10.0.0.{rank}")),
            public_ip: None,
            zone: Some("us-east-1a".into()),
            instance_type: "m6i.2xlarge".into(),
            spot: false,
        }
    }

    fn launched() -> LaunchedResources {
        LaunchedResources {
            cloud: CloudId::Aws,
            region: "us-east-1".into(),
            zone: Some("us-east-1a".into()),
            instance_type: "m6i.2xlarge".into(),
            accelerator: None,
            spot: false,
            hourly_price: 0.384,
            num_nodes: 2,
            disk_size_gb: 256,
            ports: vec![],
        }
    }

    #[test]
    fn lifecycle_is_recorded_with_events_and_history() {
        let dir = tempfile::tempdir().unwrap();
        let s = StateStore::open(dir.path()).unwrap();
        let (rec, created) = s.begin_provision("c1", "p1", "alice").unwrap();
        assert!(created);
        assert_eq!(rec.status, ClusterStatus::Init);
        s.set_launched("c1", &launched()).unwrap();
        s.set_nodes("c1", &[node(0), node(1)]).unwrap();
        s.set_status("c1", ClusterStatus::Up, "provisioned")
            .unwrap();
        s.end_provision("c1", "p1").unwrap();
        let got = s.get("c1").unwrap().unwrap();
        assert_eq!(got.nodes.len(), 2);
        assert_eq!(got.launched, Some(launched()));
        s.set_status("c1", ClusterStatus::Stopped, "user stop")
            .unwrap();
        s.remove("c1", "down").unwrap();
        assert!(s.get("c1").unwrap().is_none());
        let ev: Vec<_> = s
            .events("c1")
            .unwrap()
            .into_iter()
            .map(|e| (e.from, e.to))
            .collect();
        use ClusterStatus::*;
        assert_eq!(
            ev,
            vec![
                (None, Some(Init)),
                (Some(Init), Some(Up)),
                (Some(Up), Some(Stopped)),
                (Some(Stopped), None)
            ]
        );
        let h = s.history().unwrap();
        assert_eq!(h.len(), 1);
        assert_eq!(h[0].usage_intervals.len(), 1);
        assert!(h[0].usage_intervals[0].1.is_some());
        // Reopening migrates nothing and keeps the data.
        drop(s);
        let s = StateStore::open(dir.path()).unwrap();
        assert_eq!(s.history().unwrap().len(), 1);
    }

    #[test]
    fn a_live_lease_keeps_a_second_provisioner_out() {
        let dir = tempfile::tempdir().unwrap();
        let a = StateStore::open(dir.path()).unwrap();
        let b = StateStore::open(dir.path()).unwrap();
        a.begin_provision("c", "proc-a", "u").unwrap();
        match b.begin_provision("c", "proc-b", "u") {
            Err(StateError::Busy { holder, .. }) => assert_eq!(holder, "proc-a"),
            other => panic!("expected Busy, got {other:?}"),
        }
        assert_eq!(
            a.get("c").unwrap().unwrap().provisioning_by.as_deref(),
            Some("proc-a")
        );
        a.end_provision("c", "proc-a").unwrap();
        let (rec, created) = b.begin_provision("c", "proc-b", "u").unwrap();
        assert!(!created, "the row exists; b attaches to it");
        assert_eq!(rec.provisioning_by.as_deref(), Some("proc-b"));
    }

    #[test]
    fn a_dead_process_lease_is_taken_over() {
        let s = StateStore::open_in_memory().unwrap();
        // A holder on this host whose process does not exist.
        let dead = format!("{}:{}:1", host_name(), u32::MAX - 7);
        s.begin_provision("c", &dead, "u").unwrap();
        assert_eq!(s.get("c").unwrap().unwrap().provisioning_by, None);
        let me = lease_holder_id(2);
        s.begin_provision("c", &me, "u").unwrap();
        assert_eq!(s.get("c").unwrap().unwrap().provisioning_by, Some(me));
    }

    #[test]
    fn a_live_holder_keeps_its_lease_after_it_expires() {
        let s = StateStore::open_in_memory().unwrap();
        let me = lease_holder_id(1);
        s.begin_provision("c", &me, "u").unwrap();
        // A long launch: the expiry is in the past, but the holder (this process) lives.
        s.with(|c| c.execute("UPDATE clusters SET lease_until = 1", []))
            .unwrap();
        let other = lease_holder_id(2);
        match s.begin_provision("c", &other, "u") {
            Err(StateError::Busy { holder, .. }) => assert_eq!(holder, me),
            other => panic!("a second provisioning started: {other:?}"),
        }
        assert_eq!(
            s.get("c").unwrap().unwrap().provisioning_by.as_deref(),
            Some(me.as_str())
        );
        // Renewal extends it; a holder that no longer holds it cannot.
        assert!(s.renew_lease("c", &me).unwrap());
        assert!(!s.renew_lease("c", &other).unwrap());
        let until: i64 = s
            .with(|c| c.query_row("SELECT lease_until FROM clusters", [], |r| r.get(0)))
            .unwrap();
        assert!(until >= now_s() + LEASE_SECONDS - 5);
        // A holder id names one process: the same pid with another start time is dead.
        let reused = format!("{}:{}:1:9", host_name(), std::process::id());
        assert!(!lease_is_live(&reused, now_s() + 100, now_s()));
        // A holder on another host binds until its lease expires.
        assert!(lease_is_live("elsewhere:1:2:3", now_s() + 100, now_s()));
        assert!(!lease_is_live("elsewhere:1:2:3", now_s() - 1, now_s()));
    }

    #[test]
    fn an_emptied_or_deleted_store_is_noticed_not_read_as_empty() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("state.db");
        {
            let s = StateStore::open(dir.path()).unwrap();
            s.begin_provision("c", "me", "u").unwrap();
        }
        // Reopening the same store is fine.
        assert_eq!(
            StateStore::open(dir.path()).unwrap().list().unwrap().len(),
            1
        );
        for damage in ["emptied", "deleted"] {
            for f in ["state.db-wal", "state.db-shm"] {
                let _ = std::fs::remove_file(dir.path().join(f));
            }
            if damage == "emptied" {
                std::fs::write(&db, b"").unwrap();
            } else {
                std::fs::remove_file(&db).unwrap();
            }
            match StateStore::open(dir.path()) {
                Err(e @ StateError::Replaced { .. }) => {
                    assert!(
                        e.to_string().contains("emptied, replaced or deleted"),
                        "{e}"
                    );
                    assert!(e.to_string().contains("state.id"), "{e}");
                }
                other => panic!("{damage}: {other:?}"),
            }
        }
        // Removing the identity file starts a new store, as the message says.
        std::fs::remove_file(dir.path().join("state.id")).unwrap();
        assert!(
            StateStore::open(dir.path())
                .unwrap()
                .list()
                .unwrap()
                .is_empty()
        );
        assert!(StateStore::open(dir.path()).is_ok());
    }

    #[test]
    fn one_damaged_row_is_reported_and_the_others_listed() {
        let s = StateStore::open_in_memory().unwrap();
        s.begin_provision("good", "me", "u").unwrap();
        s.begin_provision("bad", "me", "u").unwrap();
        s.with(|c| {
            c.execute(
                "UPDATE clusters SET nodes = '{not json' WHERE name = 'bad'",
                [],
            )
        })
        .unwrap();
        let names: Vec<String> = s.list().unwrap().into_iter().map(|r| r.name).collect();
        assert_eq!(names, ["good"]);
        let (records, damaged) = s.list_with_damage().unwrap();
        assert_eq!(records.len(), 1);
        assert_eq!(damaged.len(), 1);
        assert!(damaged[0].to_string().contains("\"bad\""), "{}", damaged[0]);
    }

    #[test]
    fn cost_counts_open_intervals_to_now() {
        let h = HistoryRecord {
            cluster_hash: "h".into(),
            name: "n".into(),
            launched: Some(launched()),
            usage_intervals: vec![(0, Some(1800)), (3600, None)],
        };
        assert_eq!(h.duration_s(5400), 3600);
        assert!((h.cost(5400) - 0.768).abs() < 1e-9);
    }

    #[cfg(unix)]
    #[test]
    fn the_state_dir_and_database_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let base = tempfile::tempdir().unwrap();
        let dir = base.path().join("new").join(".sky");
        let s = StateStore::open(&dir).unwrap();
        s.begin_provision("c", "me", "u").unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&dir.join("state.db")), 0o600);
        assert_eq!(mode(&dir.join("state.db-wal")), 0o600);
        drop(s);
        // A database left readable by others is tightened when opened.
        std::fs::set_permissions(dir.join("state.db"), std::fs::Permissions::from_mode(0o644))
            .unwrap();
        StateStore::open(&dir).unwrap();
        assert_eq!(mode(&dir.join("state.db")), 0o600);
    }

    #[test]
    fn a_name_relaunched_within_a_second_gets_a_new_incarnation() {
        let s = StateStore::open_in_memory().unwrap();
        let mut hashes = std::collections::BTreeSet::new();
        for _ in 0..3 {
            let (rec, created) = s.begin_provision("c", "me", "u").unwrap();
            assert!(created);
            assert!(hashes.insert(rec.cluster_hash.clone()), "{hashes:?}");
            assert_eq!(rec.cluster_hash.len(), hashes.first().unwrap().len());
            s.remove("c", "down").unwrap();
        }
    }

    #[test]
    fn a_version_2_store_keeps_its_jobs_and_can_record_cancelling() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut c = Connection::open(dir.path().join("state.db")).unwrap();
            let tx = c.transaction().unwrap();
            for m in &schema::MIGRATIONS[..2] {
                tx.execute_batch(m).unwrap();
            }
            tx.pragma_update(None, "user_version", 2).unwrap();
            tx.execute(
                "INSERT INTO jobs (cluster_hash, job_id, cluster, status, num_nodes,
                     run_timestamp, task_id, payload, submitted_at, updated_at)
                 VALUES ('h', 1, 'c', 'RUNNING', 2, 'ts', 'tid', '{}', 5, 5)",
                [],
            )
            .unwrap();
            tx.commit().unwrap();
        }
        let s = StateStore::open(dir.path()).unwrap();
        let status = |s: &StateStore| {
            s.with(|c| {
                c.query_row("SELECT status, num_nodes FROM jobs", [], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
                })
            })
            .unwrap()
        };
        assert_eq!(status(&s), ("RUNNING".to_string(), 2));
        s.with(|c| c.execute("UPDATE jobs SET status = 'CANCELLING'", []))
            .unwrap();
        assert_eq!(status(&s).0, "CANCELLING");
        let version: i64 = s
            .with(|c| c.query_row("PRAGMA user_version", [], |r| r.get(0)))
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION);
        // Unknown statuses are still refused.
        assert!(
            s.with(|c| c.execute("UPDATE jobs SET status = 'LOST'", []))
                .is_err()
        );
    }

    #[test]
    fn refuses_a_newer_schema() {
        let dir = tempfile::tempdir().unwrap();
        {
            let c = Connection::open(dir.path().join("state.db")).unwrap();
            c.pragma_update(None, "user_version", 99).unwrap();
        }
        assert!(matches!(
            StateStore::open(dir.path()),
            Err(StateError::TooNew { found: 99, .. })
        ));
    }
}
