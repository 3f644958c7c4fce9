//! Which host belongs to which cluster: `<state dir>/ssh_node_pools.db`.
//!
//! One SQLite table, `host_allocations`, with a row per rank of a cluster. A host is
//! `user@address:port` ([`PoolHost::login`]) and is unique in the table, whatever pool it is
//! listed in: two pools listing the same machine never give it to two clusters. Allocations
//! happen in `IMMEDIATE` transactions, so two processes launching at once can never take the
//! same host (the loser gets a capacity error and fails over).
//!
//! A row keeps how the host was reached (user, key), so a cluster can be torn down even when
//! the pool file has changed or is malformed. The table of earlier versions, `allocations`
//! (keyed by pool and `address:port`), is migrated when the store is opened.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::config::{NodePools, PoolHost};
use crate::error::PoolError;

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS host_allocations (
    host TEXT NOT NULL UNIQUE,
    pool TEXT NOT NULL,
    ip TEXT NOT NULL,
    port INTEGER NOT NULL,
    user TEXT NOT NULL,
    identity_file TEXT,
    cluster TEXT NOT NULL,
    rank INTEGER NOT NULL,
    PRIMARY KEY (cluster, rank)
);";

/// A host allocated to a cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Allocation {
    pub(crate) rank: u32,
    /// The pool it was allocated from.
    pub(crate) pool: String,
    /// How it was reached when it was allocated.
    pub(crate) host: PoolHost,
}

/// The outcome of [`AllocStore::allocate`].
pub(crate) enum Allocated {
    /// Every rank has a host.
    Done(Vec<Allocation>),
    /// Not enough of the hosts offered are free: how many are.
    Short { free: usize },
}

/// What a cluster needs from a pool: how many ranks have no host yet, and the hosts that
/// are free for it.
pub(crate) struct Needs<'h> {
    pub(crate) missing: usize,
    pub(crate) free: Vec<&'h PoolHost>,
    /// Hosts of the pool held by clusters of other pools: `(login, cluster, pool)`.
    pub(crate) elsewhere: Vec<(String, String, String)>,
}

#[derive(Debug)]
pub(crate) struct AllocStore {
    path: PathBuf,
    conn: Mutex<Connection>,
}

/// The user of a host whose pool does not say (as `ssh` does): `$USER`, else root.
pub(crate) fn default_user() -> String {
    std::env::var("USER").unwrap_or_else(|_| "root".into())
}

impl AllocStore {
    /// Opens (and creates or migrates) the store; `pools` give the users and keys of the
    /// allocations an earlier version recorded without them.
    pub(crate) fn open(state_dir: &Path, pools: &NodePools) -> Result<Self, PoolError> {
        let path = state_dir.join("ssh_node_pools.db");
        let db = |source| PoolError::Db {
            path: path.clone(),
            source,
        };
        sky_exec::sqlite::create_private_dir(state_dir).map_err(|source| PoolError::Io {
            path: state_dir.to_path_buf(),
            source,
        })?;
        sky_exec::sqlite::ensure_private_file(&path).map_err(|source| PoolError::Io {
            path: path.clone(),
            source,
        })?;
        let mut conn = Connection::open(&path).map_err(db)?;
        sky_exec::sqlite::set_busy_timeout_and_wal(&conn, Duration::from_secs(10)).map_err(db)?;
        conn.execute_batch(SCHEMA).map_err(db)?;
        if has_legacy_table(&conn).map_err(db)? {
            migrate(&mut conn, pools).map_err(db)?;
        }
        Ok(AllocStore {
            path,
            conn: Mutex::new(conn),
        })
    }

    fn with<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<T>,
    ) -> Result<T, PoolError> {
        let mut c = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut c).map_err(|source| PoolError::Db {
            path: self.path.clone(),
            source,
        })
    }

    fn read(c: &Connection, cluster: &str) -> rusqlite::Result<Vec<Allocation>> {
        let mut st = c.prepare(
            "SELECT rank, pool, ip, port, user, identity_file FROM host_allocations
             WHERE cluster = ?1 ORDER BY rank",
        )?;
        let rows = st.query_map([cluster], |r| {
            Ok(Allocation {
                rank: r.get(0)?,
                pool: r.get(1)?,
                host: PoolHost {
                    ip: r.get(2)?,
                    port: r.get(3)?,
                    user: r.get(4)?,
                    identity_file: r.get::<_, Option<String>>(5)?.map(PathBuf::from),
                },
            })
        })?;
        rows.collect()
    }

    /// Every allocated host but `cluster`'s: `(login, cluster, pool)`.
    fn taken(c: &Connection, cluster: &str) -> rusqlite::Result<Vec<(String, String, String)>> {
        let mut st =
            c.prepare("SELECT host, cluster, pool FROM host_allocations WHERE cluster != ?1")?;
        let rows = st.query_map([cluster], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        rows.collect()
    }

    /// The hosts of a cluster, by rank.
    pub(crate) fn of_cluster(&self, cluster: &str) -> Result<Vec<Allocation>, PoolError> {
        self.with(|c| Self::read(c, cluster))
    }

    /// What ranks `0..num_nodes` of `cluster` still need from `hosts` (pool `pool`), as it
    /// stands now ([`AllocStore::allocate`] checks again).
    pub(crate) fn needs<'h>(
        &self,
        pool: &str,
        hosts: &'h [PoolHost],
        cluster: &str,
        num_nodes: u32,
    ) -> Result<Needs<'h>, PoolError> {
        self.with(|c| {
            let have = Self::read(c, cluster)?;
            let taken = Self::taken(c, cluster)?;
            let is_taken = |h: &PoolHost| taken.iter().any(|t| t.0 == h.login());
            let elsewhere = taken
                .iter()
                .filter(|t| t.2 != pool && hosts.iter().any(|h| h.login() == t.0))
                .cloned()
                .collect();
            Ok(Needs {
                missing: (0..num_nodes)
                    .filter(|r| !have.iter().any(|a| a.rank == *r))
                    .count(),
                free: hosts
                    .iter()
                    .filter(|h| !is_taken(h) && !have.iter().any(|a| a.host.login() == h.login()))
                    .collect(),
                elsewhere,
            })
        })
    }

    /// Gives ranks `0..num_nodes` of `cluster` a host each of `hosts` (of pool `pool`),
    /// keeping the hosts it has, all or nothing.
    pub(crate) fn allocate(
        &self,
        pool: &str,
        hosts: &[&PoolHost],
        cluster: &str,
        num_nodes: u32,
    ) -> Result<Allocated, PoolError> {
        self.with(|c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let have = Self::read(&tx, cluster)?;
            let missing: Vec<u32> = (0..num_nodes)
                .filter(|r| !have.iter().any(|a| a.rank == *r))
                .collect();
            let taken = Self::taken(&tx, cluster)?;
            let free: Vec<&PoolHost> = hosts
                .iter()
                .copied()
                .filter(|h| {
                    let login = h.login();
                    !taken.iter().any(|t| t.0 == login)
                        && !have.iter().any(|a| a.host.login() == login)
                })
                .collect();
            if free.len() < missing.len() {
                return Ok(Allocated::Short { free: free.len() });
            }
            for (rank, host) in missing.iter().zip(free) {
                insert(&tx, pool, host, cluster, *rank)?;
            }
            let all = Self::read(&tx, cluster)?;
            tx.commit()?;
            Ok(Allocated::Done(all))
        })
    }

    /// Releases every host of `cluster`.
    pub(crate) fn release(&self, cluster: &str) -> Result<(), PoolError> {
        self.with(|c| c.execute("DELETE FROM host_allocations WHERE cluster = ?1", [cluster]))?;
        Ok(())
    }
}

/// Records `host` as rank `rank` of `cluster` (a constraint error when the host is taken).
fn insert(
    c: &Connection,
    pool: &str,
    host: &PoolHost,
    cluster: &str,
    rank: u32,
) -> rusqlite::Result<usize> {
    c.execute(
        "INSERT INTO host_allocations
         (host, pool, ip, port, user, identity_file, cluster, rank)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            host.login(),
            pool,
            host.ip,
            host.port,
            host.user,
            host.identity_file
                .as_ref()
                .map(|p| p.to_string_lossy().into_owned()),
            cluster,
            rank
        ],
    )
}

fn has_legacy_table(c: &Connection) -> rusqlite::Result<bool> {
    c.query_row(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'allocations'",
        [],
        |_| Ok(()),
    )
    .optional()
    .map(|r| r.is_some())
}

/// Moves the rows of the earlier `allocations (pool, host = address:port, ...)` table into
/// `host_allocations`, each host with the user and key its pool gives it now (`$USER` and
/// ssh's default key when the pool no longer lists it), and drops the old table.
///
/// The old table allowed a host of two pools to be given twice; such a host stays with the
/// first cluster it was recorded for, and the other is logged.
fn migrate(conn: &mut Connection, pools: &NodePools) -> rusqlite::Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    // Another process may have migrated while this one waited for the lock.
    if !has_legacy_table(&tx)? {
        return Ok(());
    }
    let rows: Vec<(String, String, u16, String, u32)> = {
        let mut st =
            tx.prepare("SELECT pool, ip, port, cluster, rank FROM allocations ORDER BY rowid")?;
        let rows = st.query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    for (pool, ip, port, cluster, rank) in rows {
        let host = pools
            .get(&pool)
            .and_then(|p| p.hosts.iter().find(|h| h.ip == ip && h.port == port))
            .cloned()
            .unwrap_or_else(|| PoolHost {
                ip,
                port,
                user: default_user(),
                identity_file: None,
            });
        match insert(&tx, &pool, &host, &cluster, rank) {
            Ok(_) => {}
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::ConstraintViolation =>
            {
                tracing::warn!(
                    host = %host.login(),
                    cluster,
                    "an earlier sky gave this host to two clusters; it stays with the first"
                );
            }
            Err(e) => return Err(e),
        }
    }
    tx.execute_batch("DROP TABLE allocations")?;
    tx.commit()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts(n: usize) -> Vec<PoolHost> {
        (0..n)
            .map(|i| PoolHost {
                ip: format!("10.0.0.{}", i + 1),
                port: 22,
                user: "u".into(),
                identity_file: None,
            })
            .collect()
    }

    fn logins(a: &[Allocation]) -> Vec<String> {
        a.iter().map(|a| a.host.login()).collect()
    }

    #[test]
    fn two_stores_never_share_a_host() {
        let dir = tempfile::tempdir().unwrap();
        let none = NodePools::default();
        let a = AllocStore::open(dir.path(), &none).unwrap();
        let b = AllocStore::open(dir.path(), &none).unwrap();
        let h = hosts(3);
        let h: Vec<&PoolHost> = h.iter().collect();
        let Allocated::Done(x) = a.allocate("p", &h, "x", 2).unwrap() else {
            panic!("x should fit")
        };
        assert_eq!(logins(&x), ["u@10.0.0.1:22", "u@10.0.0.2:22"]);
        // Idempotent: the same ranks keep their hosts.
        let Allocated::Done(again) = b.allocate("p", &h, "x", 2).unwrap() else {
            panic!()
        };
        assert_eq!(again, x);
        assert!(matches!(
            b.allocate("p", &h, "y", 2).unwrap(),
            Allocated::Short { free: 1 }
        ));
        assert!(b.of_cluster("y").unwrap().is_empty(), "all or nothing");
        a.release("x").unwrap();
        let Allocated::Done(y) = b.allocate("p", &h, "y", 3).unwrap() else {
            panic!()
        };
        assert_eq!(y.len(), 3);
    }

    #[test]
    fn a_host_of_two_pools_is_allocated_once() {
        let dir = tempfile::tempdir().unwrap();
        let s = AllocStore::open(dir.path(), &NodePools::default()).unwrap();
        let h = hosts(2);
        let (a, b): (Vec<&PoolHost>, Vec<&PoolHost>) = (vec![&h[0]], vec![&h[0], &h[1]]);
        assert!(matches!(
            s.allocate("a", &a, "x", 1).unwrap(),
            Allocated::Done(_)
        ));
        let Allocated::Done(y) = s.allocate("b", &b, "y", 1).unwrap() else {
            panic!("y should get the other host")
        };
        assert_eq!(logins(&y), ["u@10.0.0.2:22"]);
        assert!(matches!(
            s.allocate("b", &b, "z", 1).unwrap(),
            Allocated::Short { free: 0 }
        ));
        let needs = s.needs("b", &h, "z", 1).unwrap();
        assert_eq!(
            needs.elsewhere,
            [(
                "u@10.0.0.1:22".to_string(),
                "x".to_string(),
                "a".to_string()
            )]
        );
        // Another user on the same machine is another login.
        let other = PoolHost {
            user: "v".into(),
            ..h[0].clone()
        };
        assert!(matches!(
            s.allocate("c", &[&other], "z", 1).unwrap(),
            Allocated::Done(_)
        ));
    }

    #[test]
    fn a_store_of_the_previous_version_keeps_its_allocations() {
        let dir = tempfile::tempdir().unwrap();
        {
            // The schema and rows of the previous version, keyed by (pool, address:port).
            let c = Connection::open(dir.path().join("ssh_node_pools.db")).unwrap();
            c.execute_batch(
                "CREATE TABLE allocations (
                    pool TEXT NOT NULL, host TEXT NOT NULL, ip TEXT NOT NULL,
                    port INTEGER NOT NULL, cluster TEXT NOT NULL, rank INTEGER NOT NULL,
                    PRIMARY KEY (pool, host), UNIQUE (cluster, rank));
                 INSERT INTO allocations VALUES ('a', '10.0.0.1:22', '10.0.0.1', 22, 'x', 0);
                 INSERT INTO allocations VALUES ('a', '10.0.0.2:2222', '10.0.0.2', 2222, 'x', 1);
                 INSERT INTO allocations VALUES ('b', '10.0.0.1:22', '10.0.0.1', 22, 'y', 0);
                 INSERT INTO allocations VALUES ('gone', '10.0.0.9:22', '10.0.0.9', 22, 'z', 0);",
            )
            .unwrap();
        }
        let pools = NodePools::from_yaml_str(
            "a:\n  user: ubuntu\n  identity_file: /k/id\n  hosts:\n    - 10.0.0.1\n    \
             - {ip: 10.0.0.2, port: 2222}\n\
             b:\n  user: ubuntu\n  identity_file: /k/id\n  hosts: [10.0.0.1]\n",
        )
        .unwrap();
        let s = AllocStore::open(dir.path(), &pools).unwrap();
        let x = s.of_cluster("x").unwrap();
        assert_eq!(logins(&x), ["ubuntu@10.0.0.1:22", "ubuntu@10.0.0.2:2222"]);
        assert_eq!(x[0].host.identity_file, Some(PathBuf::from("/k/id")));
        assert_eq!(x[1].pool, "a");
        // The host the old store gave twice stays with the first cluster.
        assert!(s.of_cluster("y").unwrap().is_empty());
        // A host whose pool is gone keeps its allocation, reached with the defaults.
        let z = s.of_cluster("z").unwrap();
        assert_eq!(z[0].host.login(), format!("{}@10.0.0.9:22", default_user()));
        // Opening again (the migration is done) changes nothing.
        drop(s);
        let s = AllocStore::open(dir.path(), &pools).unwrap();
        assert_eq!(s.of_cluster("x").unwrap(), x);
        let b = &pools.get("b").unwrap().hosts;
        assert!(matches!(
            s.allocate("b", &b.iter().collect::<Vec<_>>(), "w", 1)
                .unwrap(),
            Allocated::Short { free: 0 }
        ));
    }
}
