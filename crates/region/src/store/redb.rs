//! The embedded store: one redb file under the data dir, every commit fsynced before it returns,
//! with the revision counter (`meta`) and the bounded change log (`log`, one row per commit) in
//! the same transaction as the rows.
//!
//! The file *is* the region, so opening it is careful:
//! - only a **missing** file means a new region. It is built as `<file>.new` (mode 0600 whatever
//!   the umask) and renamed into place, so a crash never leaves a half-made store behind;
//! - an existing file that is empty, too short, not a redb file, damaged, or without the `rows`
//!   table is refused with [`StoreError::Unreadable`] and left byte for byte as it was: the
//!   region never starts empty by itself. redb panics on some damaged files (e.g. a truncated
//!   one); the panic is caught and reported the same way;
//! - a file held by another process is [`StoreError::Locked`].
//!
//! After a failed commit (disk full, an I/O error) redb refuses every later transaction with
//! "Previous I/O error occurred". The handle is therefore dropped on any failure and the file
//! reopened (redb repairs what the failed commit left) before the next transaction: once the
//! cause is gone the region writes again without a restart.

use std::io::Read;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use ::redb::{Database, DatabaseError, ReadableTable, TableDefinition, TableError};

use super::{
    Change, Changes, DEFAULT_LOG_LIMIT, Record, RevisionSignal, Snapshot, Store, StoreError,
    decode_log, encode_log,
};

const ROWS: TableDefinition<&str, &[u8]> = TableDefinition::new("rows");
/// `revision` (the last commit) and `compacted` (the newest revision dropped from the log).
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
/// One row per commit, keyed by its revision.
const LOG: TableDefinition<u64, &[u8]> = TableDefinition::new("log");
const SEP: char = '\u{1f}';
/// The first bytes of every redb file (redb's `MAGICNUMBER`).
const MAGIC: [u8; 9] = [b'r', b'e', b'd', b'b', 0x1A, 0x0A, 0xA9, 0x0D, 0x0A];
/// Mode of the store file: the region's state is nobody else's business.
const FILE_MODE: u32 = 0o600;

/// The embedded store: a redb file, each commit durable before it returns.
pub struct RedbStore {
    path: PathBuf,
    /// `None` after a failed transaction: reopened before the next one.
    db: Mutex<Option<Database>>,
    log_limit: u64,
    signal: RevisionSignal,
}

impl RedbStore {
    /// Open the store at `path`, making a new empty one only if no file is there.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let db = match std::fs::metadata(path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => create_new(path)?,
            Err(e) => return Err(unreadable(path, e)),
            Ok(meta) => {
                check_header(path, &meta)?;
                let db = open_existing(path)?;
                if meta.permissions().mode() & 0o077 != 0 {
                    tighten(path, meta.permissions().mode())?;
                }
                db
            }
        };
        let s = Self {
            path: path.to_path_buf(),
            db: Mutex::new(Some(db)),
            log_limit: DEFAULT_LOG_LIMIT,
            signal: RevisionSignal::default(),
        };
        let rev = s.revision()?;
        s.signal.set(rev);
        Ok(s)
    }

    /// Keep only the last `limit` commits in the change log (at least 1).
    pub fn with_log_limit(mut self, limit: u64) -> Self {
        self.log_limit = limit.max(1);
        self
    }

    /// The file this store lives in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The open handle, reopening the file if the last transaction failed.
    fn handle<'a>(
        &self,
        guard: &'a mut MutexGuard<'_, Option<Database>>,
    ) -> Result<&'a Database, StoreError> {
        if guard.is_none() {
            let db = open_existing(&self.path).map_err(|e| {
                StoreError::Io(format!(
                    "reopening {} after a failed write: {e}",
                    self.path.display()
                ))
            })?;
            tracing::info!(path = %self.path.display(), "reopened the region store after a failed write");
            **guard = Some(db);
        }
        guard
            .as_ref()
            .ok_or_else(|| StoreError::Io("the store handle vanished".into()))
    }

    fn lock(&self) -> MutexGuard<'_, Option<Database>> {
        // A panic while the lock was held is caught below and leaves `None` or a usable handle.
        self.db.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Run `f` on the open handle; on any failure (or panic) drop the handle so the next call
    /// starts from a freshly opened file.
    fn with_db<R>(
        &self,
        f: impl FnOnce(&Database) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        let mut guard = self.lock();
        let db = self.handle(&mut guard)?;
        let result = match catch_quietly(AssertUnwindSafe(|| f(db))) {
            Ok(r) => r,
            Err(panic) => Err(StoreError::Io(format!("redb panicked: {panic}"))),
        };
        if let Err(e) = &result {
            tracing::warn!(path = %self.path.display(), error = %e, "region store transaction failed; the file is reopened before the next one");
            if let Some(db) = guard.take() {
                // redb's Drop may itself fail (or panic) after an I/O error; it only tries to
                // tidy up, and the reopen repairs whatever it could not.
                let _ = catch_quietly(AssertUnwindSafe(move || drop(db)));
            }
        }
        result
    }
}

fn io(e: impl std::fmt::Display) -> StoreError {
    StoreError::Io(e.to_string())
}

fn unreadable(path: &Path, reason: impl std::fmt::Display) -> StoreError {
    StoreError::Unreadable {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    }
}

/// Refuse, without touching it, a file that cannot be a redb database. redb itself would
/// initialise an empty file as a new database: that is how a truncated store became an empty
/// region.
fn check_header(path: &Path, meta: &std::fs::Metadata) -> Result<(), StoreError> {
    if !meta.is_file() {
        return Err(unreadable(path, "it is not a regular file"));
    }
    if meta.len() == 0 {
        return Err(unreadable(path, "it is empty (0 bytes)"));
    }
    let mut head = [0u8; MAGIC.len()];
    let mut f = std::fs::File::open(path).map_err(|e| unreadable(path, e))?;
    let n = read_up_to(&mut f, &mut head).map_err(|e| unreadable(path, e))?;
    if n < MAGIC.len() || head != MAGIC {
        return Err(unreadable(
            path,
            "it does not start with redb's header, so it is not a region store",
        ));
    }
    Ok(())
}

fn read_up_to(f: &mut std::fs::File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// Open an existing store file: never creates or re-initialises it.
fn open_existing(path: &Path) -> Result<Database, StoreError> {
    let db = match catch_quietly(|| Database::builder().open(path)) {
        Err(panic) => {
            return Err(unreadable(
                path,
                format!("redb panicked reading it: {panic}"),
            ));
        }
        Ok(Err(DatabaseError::DatabaseAlreadyOpen)) => {
            return Err(StoreError::Locked {
                path: path.to_path_buf(),
            });
        }
        Ok(Err(e)) => return Err(unreadable(path, e)),
        Ok(Ok(db)) => db,
    };
    // A sixfold store always has the table (it is made before the file is renamed into place).
    let check = catch_quietly(AssertUnwindSafe(|| -> Result<(), String> {
        let tx = db.begin_read().map_err(|e| e.to_string())?;
        match tx.open_table(ROWS) {
            Ok(_) => Ok(()),
            Err(TableError::TableDoesNotExist(_)) => {
                Err("it has no `rows` table, so it is not a region store".into())
            }
            Err(e) => Err(e.to_string()),
        }
    }));
    match check {
        Ok(Ok(())) => Ok(db),
        Ok(Err(reason)) => Err(unreadable(path, reason)),
        Err(panic) => Err(unreadable(
            path,
            format!("redb panicked reading it: {panic}"),
        )),
    }
}

/// Make a new empty store at `path`: built aside, then renamed into place.
fn create_new(path: &Path) -> Result<Database, StoreError> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".new");
    let tmp = PathBuf::from(tmp);
    let fail = |what: &str, e: &dyn std::fmt::Display| {
        StoreError::Io(format!(
            "creating the region store {}: {what}: {e}",
            path.display()
        ))
    };
    // A leftover from a start that crashed half way (the data dir lock is held, so no other
    // `sixfold serve` is making it right now).
    match std::fs::remove_file(&tmp) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(fail("removing a stale temporary file", &e)),
    }
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .mode(FILE_MODE)
        .open(&tmp)
        .map_err(|e| fail("creating the file", &e))?;
    // The umask can only have taken bits away; set the mode exactly.
    file.set_permissions(std::fs::Permissions::from_mode(FILE_MODE))
        .map_err(|e| fail("setting its mode", &e))?;
    {
        let db = Database::builder()
            .create_file(file)
            .map_err(|e| fail("initialising it", &e))?;
        let tx = db.begin_write().map_err(|e| fail("initialising it", &e))?;
        tx.open_table(ROWS)
            .map_err(|e| fail("initialising it", &e))?;
        tx.commit().map_err(|e| fail("initialising it", &e))?;
    }
    std::fs::rename(&tmp, path).map_err(|e| fail("renaming it into place", &e))?;
    if let Some(dir) = path.parent() {
        let d = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        std::fs::File::open(d)
            .and_then(|d| d.sync_all())
            .map_err(|e| fail("syncing its directory", &e))?;
    }
    open_existing(path)
}

fn tighten(path: &Path, mode: u32) -> Result<(), StoreError> {
    tracing::warn!(
        path = %path.display(),
        mode = format!("{:04o}", mode & 0o7777),
        "the region store was readable or writable by others; its mode is now 0600"
    );
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(FILE_MODE))
        .map_err(|e| io(format!("chmod 600 {}: {e}", path.display())))
}

/// Run `f`, turning a panic into its message. While it runs, panics on *this* thread are not
/// printed (the caller reports them as one clear error); other threads' panics still are. The
/// panic hook is process-wide: calls are serialized by the callers (start-up runs on one
/// thread; later calls hold the store's mutex).
fn catch_quietly<R>(f: impl FnOnce() -> R + std::panic::UnwindSafe) -> Result<R, String> {
    let me = std::thread::current().id();
    let previous: Arc<dyn Fn(&std::panic::PanicHookInfo<'_>) + Send + Sync> =
        Arc::from(std::panic::take_hook());
    let outer = Arc::clone(&previous);
    std::panic::set_hook(Box::new(move |info| {
        if std::thread::current().id() != me {
            outer(info);
        }
    }));
    let result = catch_unwind(f);
    std::panic::set_hook(Box::new(move |info| previous(info)));
    result.map_err(|payload| {
        payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic without a message".into())
    })
}

fn meta_get(meta: &impl ReadableTable<&'static str, u64>, key: &str) -> Result<u64, StoreError> {
    Ok(meta.get(key).map_err(io)?.map(|v| v.value()).unwrap_or(0))
}

/// `(revision, compacted)` as of a read transaction. A store made before the change feed has
/// no `meta` table until its first commit (opening never writes, so a store that is refused is
/// left as found): it is at revision 0.
fn read_meta(tx: &::redb::ReadTransaction) -> Result<(u64, u64), StoreError> {
    match tx.open_table(META) {
        Ok(meta) => Ok((meta_get(&meta, "revision")?, meta_get(&meta, "compacted")?)),
        Err(TableError::TableDoesNotExist(_)) => Ok((0, 0)),
        Err(e) => Err(io(e)),
    }
}

impl Store for RedbStore {
    fn load(&self) -> Result<Snapshot, StoreError> {
        self.with_db(|db| {
            let tx = db.begin_read().map_err(io)?;
            let table = tx.open_table(ROWS).map_err(io)?;
            let (revision, _) = read_meta(&tx)?;
            let mut out = Vec::new();
            for row in table.iter().map_err(io)? {
                let (k, v) = row.map_err(io)?;
                let k = k.value();
                let Some((t, key)) = k.split_once(SEP) else {
                    return Err(StoreError::Corrupt {
                        table: String::new(),
                        key: k.to_string(),
                        message: "key has no table part".into(),
                    });
                };
                out.push(Record {
                    table: t.to_string(),
                    key: key.to_string(),
                    value: v.value().to_vec(),
                });
            }
            Ok(Snapshot {
                records: out,
                revision,
            })
        })
    }

    fn commit(&self, changes: &[Change], base: u64) -> Result<u64, StoreError> {
        if changes.is_empty() {
            return Ok(base);
        }
        // The outer error is a failed transaction (the handle is reopened); the inner one a
        // refusal that leaves the file as it was.
        let rev = self.with_db(|db| {
            let tx = db.begin_write().map_err(io)?;
            let rev;
            {
                let mut meta = tx.open_table(META).map_err(io)?;
                let current = meta_get(&meta, "revision")?;
                if current != base {
                    return Ok(Err(StoreError::Conflict { base }));
                }
                rev = current + 1;
                let mut table = tx.open_table(ROWS).map_err(io)?;
                for c in changes {
                    let k = format!("{}{SEP}{}", c.table, c.key);
                    match &c.value {
                        Some(v) => {
                            table.insert(k.as_str(), v.as_slice()).map_err(io)?;
                        }
                        None => {
                            table.remove(k.as_str()).map_err(io)?;
                        }
                    }
                }
                let mut log = tx.open_table(LOG).map_err(io)?;
                log.insert(rev, encode_log(changes).as_slice())
                    .map_err(io)?;
                // Bound the log: drop the oldest commits beyond the limit.
                let mut compacted = meta_get(&meta, "compacted")?;
                while rev.saturating_sub(compacted) > self.log_limit {
                    match log.pop_first().map_err(io)? {
                        Some((k, _)) => compacted = k.value(),
                        None => break,
                    }
                }
                meta.insert("revision", rev).map_err(io)?;
                meta.insert("compacted", compacted).map_err(io)?;
            }
            // Durability::Immediate is redb's default: commit returns after fsync.
            tx.commit().map_err(io)?;
            Ok(Ok(rev))
        })??;
        self.signal.set(rev);
        Ok(rev)
    }

    fn revision(&self) -> Result<u64, StoreError> {
        self.with_db(|db| {
            let tx = db.begin_read().map_err(io)?;
            Ok(read_meta(&tx)?.0)
        })
    }

    fn changes_since(&self, since: u64, max: usize) -> Result<Changes, StoreError> {
        self.with_db(|db| {
            let tx = db.begin_read().map_err(io)?;
            let (revision, compacted) = read_meta(&tx)?;
            if since < compacted {
                return Ok(Err(StoreError::Compacted {
                    requested: since,
                    compacted,
                }));
            }
            let log = match tx.open_table(LOG) {
                Ok(log) => log,
                Err(TableError::TableDoesNotExist(_)) => {
                    return Ok(Ok(Changes {
                        events: Vec::new(),
                        through: since.max(revision),
                    }));
                }
                Err(e) => return Err(io(e)),
            };
            let mut out = Changes {
                events: Vec::new(),
                through: since,
            };
            for row in log.range(since.saturating_add(1)..).map_err(io)? {
                if out.events.len() >= max {
                    return Ok(Ok(out));
                }
                let (k, v) = row.map_err(io)?;
                out.events.extend(decode_log(k.value(), v.value())?);
                out.through = k.value();
            }
            out.through = out.through.max(revision);
            Ok(Ok(out))
        })?
    }

    fn wait_past(&self, after: u64, timeout: Duration) -> Result<u64, StoreError> {
        Ok(self.signal.wait_past(after, timeout))
    }
}

#[cfg(test)]
mod tests;
