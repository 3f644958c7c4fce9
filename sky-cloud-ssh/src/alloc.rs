//! Which pool host belongs to which cluster: `<state dir>/ssh_node_pools.db`.
//!
//! One SQLite table keyed by `(pool, host)`, so a host is allocated to at most one cluster;
//! allocations happen in `IMMEDIATE` transactions, so two processes launching at once can
//! never take the same host (the loser gets a capacity error and fails over).

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::{Connection, TransactionBehavior, params};

use crate::config::PoolHost;
use crate::error::PoolError;

/// A host allocated to a cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Allocation {
    pub(crate) rank: u32,
    pub(crate) ip: String,
    pub(crate) port: u16,
}

impl Allocation {
    pub(crate) fn key(&self) -> String {
        format!("{}:{}", self.ip, self.port)
    }
}

/// The outcome of [`AllocStore::allocate`].
pub(crate) enum Allocated {
    /// Every rank has a host.
    Done(Vec<Allocation>),
    /// Not enough free hosts: how many are free and how many were missing.
    Short { free: usize, missing: usize },
}

#[derive(Debug)]
pub(crate) struct AllocStore {
    path: PathBuf,
    conn: Mutex<Connection>,
}

impl AllocStore {
    pub(crate) fn open(state_dir: &Path) -> Result<Self, PoolError> {
        let path = state_dir.join("ssh_node_pools.db");
        let db = |source| PoolError::Db {
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(state_dir).map_err(|source| PoolError::Io {
            path: state_dir.to_path_buf(),
            source,
        })?;
        let conn = Connection::open(&path).map_err(db)?;
        sky_exec::sqlite::set_busy_timeout_and_wal(&conn, Duration::from_secs(10)).map_err(db)?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS allocations (
                pool TEXT NOT NULL,
                host TEXT NOT NULL,
                ip TEXT NOT NULL,
                port INTEGER NOT NULL,
                cluster TEXT NOT NULL,
                rank INTEGER NOT NULL,
                PRIMARY KEY (pool, host),
                UNIQUE (cluster, rank)
            );",
        )
        .map_err(db)?;
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
        let mut st =
            c.prepare("SELECT rank, ip, port FROM allocations WHERE cluster = ?1 ORDER BY rank")?;
        let rows = st.query_map([cluster], |r| {
            Ok(Allocation {
                rank: r.get(0)?,
                ip: r.get(1)?,
                port: r.get(2)?,
            })
        })?;
        rows.collect()
    }

    /// The hosts of a cluster, by rank.
    pub(crate) fn of_cluster(&self, cluster: &str) -> Result<Vec<Allocation>, PoolError> {
        self.with(|c| Self::read(c, cluster))
    }

    /// Gives ranks `0..num_nodes` of `cluster` a host of `pool` each (keeping the hosts it
    /// has), all or nothing.
    pub(crate) fn allocate(
        &self,
        pool: &str,
        hosts: &[PoolHost],
        cluster: &str,
        num_nodes: u32,
    ) -> Result<Allocated, PoolError> {
        self.with(|c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let have = Self::read(&tx, cluster)?;
            let missing: Vec<u32> = (0..num_nodes)
                .filter(|r| !have.iter().any(|a| a.rank == *r))
                .collect();
            let taken: Vec<String> = {
                let mut st = tx.prepare("SELECT host FROM allocations WHERE pool = ?1")?;
                let rows = st.query_map([pool], |r| r.get(0))?;
                rows.collect::<rusqlite::Result<_>>()?
            };
            let free: Vec<&PoolHost> = hosts.iter().filter(|h| !taken.contains(&h.key())).collect();
            if free.len() < missing.len() {
                return Ok(Allocated::Short {
                    free: free.len(),
                    missing: missing.len(),
                });
            }
            for (rank, host) in missing.iter().zip(free) {
                tx.execute(
                    "INSERT INTO allocations (pool, host, ip, port, cluster, rank)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![pool, host.key(), host.ip, host.port, cluster, rank],
                )?;
            }
            let all = Self::read(&tx, cluster)?;
            tx.commit()?;
            Ok(Allocated::Done(all))
        })
    }

    /// Releases every host of `cluster`.
    pub(crate) fn release(&self, cluster: &str) -> Result<(), PoolError> {
        self.with(|c| c.execute("DELETE FROM allocations WHERE cluster = ?1", [cluster]))?;
        Ok(())
    }
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

    #[test]
    fn two_stores_never_share_a_host() {
        let dir = tempfile::tempdir().unwrap();
        let a = AllocStore::open(dir.path()).unwrap();
        let b = AllocStore::open(dir.path()).unwrap();
        let h = hosts(3);
        let Allocated::Done(x) = a.allocate("p", &h, "x", 2).unwrap() else {
            panic!("x should fit")
        };
        assert_eq!(
            x.iter().map(Allocation::key).collect::<Vec<_>>(),
            ["10.0.0.1:22", "10.0.0.2:22"]
        );
        // Idempotent: the same ranks keep their hosts.
        let Allocated::Done(again) = b.allocate("p", &h, "x", 2).unwrap() else {
            panic!()
        };
        assert_eq!(again, x);
        assert!(matches!(
            b.allocate("p", &h, "y", 2).unwrap(),
            Allocated::Short {
                free: 1,
                missing: 2
            }
        ));
        assert!(b.of_cluster("y").unwrap().is_empty(), "all or nothing");
        a.release("x").unwrap();
        let Allocated::Done(y) = b.allocate("p", &h, "y", 3).unwrap() else {
            panic!()
        };
        assert_eq!(y.len(), 3);
    }
}
