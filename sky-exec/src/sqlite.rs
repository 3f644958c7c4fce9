//! How sky opens the SQLite files it keeps on this machine (the broker's state store, the
//! SSH node pools' allocations): one busy timeout, WAL journaling, and a retried switch to
//! WAL for files that several processes create at once.
//!
//! It lives here, beside the node connectors, so that the backends that keep their own
//! SQLite file (the SSH pools) and the runtime's state store share it without the backends
//! depending on the runtime.

use std::path::Path;

use rusqlite::Connection;

/// Makes `dir` and its missing parents private to this user (mode 0700 on Unix) when it
/// creates them; an existing directory keeps its mode (it is the user's).
///
/// # Errors
/// The directory cannot be created.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
    b.create(dir)
}

/// Makes sure the database file `path` exists and only this user can read it (mode 0600 on
/// Unix: created so, or tightened if it is open to others), before SQLite opens it; SQLite
/// gives its `-wal` and `-shm` files the database file's mode.
///
/// # Errors
/// The file cannot be created or its mode changed.
pub fn ensure_private_file(path: &Path) -> std::io::Result<()> {
    let mut o = std::fs::OpenOptions::new();
    o.create(true).append(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    let f = o.open(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = f.metadata()?.permissions().mode();
        if mode & 0o077 != 0 {
            f.set_permissions(std::fs::Permissions::from_mode(mode & 0o700))?;
        }
    }
    drop(f);
    Ok(())
}

/// Sets `busy` as the busy timeout of `conn` and switches its database to WAL journaling,
/// the way sky opens its SQLite files (the state store, the SSH pools' allocations).
///
/// Switching a new file to WAL takes its exclusive lock without the busy handler (SQLite's
/// pager does not wait there), so processes opening a new file at once would get
/// `SQLITE_BUSY`; the switch is retried for as long as `busy`.
///
/// # Errors
/// The SQLite error, `SQLITE_BUSY` included once `busy` has passed.
pub fn set_busy_timeout_and_wal(
    conn: &Connection,
    busy: std::time::Duration,
) -> rusqlite::Result<()> {
    conn.busy_timeout(busy)?;
    let deadline = std::time::Instant::now() + busy;
    loop {
        match conn.pragma_update(None, "journal_mode", "WAL") {
            Ok(()) => return Ok(()),
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::DatabaseBusy
                    && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            Err(e) => return Err(e),
        }
    }
}
