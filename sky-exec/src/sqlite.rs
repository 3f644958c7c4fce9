//! How sky opens the SQLite files it keeps on this machine (the broker's state store, the
//! SSH node pools' allocations): one busy timeout, WAL journaling, and a retried switch to
//! WAL for files that several processes create at once.
//!
//! It lives here, beside the node connectors, so that the backends that keep their own
//! SQLite file (the SSH pools) and the runtime's state store share it without the backends
//! depending on the runtime.

use rusqlite::Connection;

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
