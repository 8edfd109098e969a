//! Group commit: many requests' changes made durable by one fsync.
//!
//! With group commit on, each change is committed at once but without an fsync (redb's
//! `Durability::None`: visible to later transactions, persisted by the next durable commit),
//! and numbered. Before the agent answers a request it waits ([`Ticket::wait`]) until every
//! change up to the newest one it could have seen is durable: the first waiter runs one empty
//! `Durability::Immediate` commit (one fsync persisting every change written so far) while the
//! others wait for it, so under a burst one fsync serves every request committed meanwhile.
//! Nothing is acknowledged before it is durable, so a crash still loses nothing acknowledged
//! (it reverts to the last durable commit, which covers every answer given).
use std::sync::{Arc, Condvar, Mutex, Weak};

use redb::{Database, Durability};

/// Sequence numbers of the changes written and made durable.
#[derive(Debug, Default)]
struct Seqs {
    written: u64,
    durable: u64,
    flushing: bool,
}

/// Shared by the store (which numbers its writes) and the request threads (which wait).
#[derive(Debug)]
pub(crate) struct GroupCommit {
    db: Arc<Database>,
    seqs: Mutex<Seqs>,
    flushed: Condvar,
}

/// A promise to wait for: every change up to `seq` durable.
#[derive(Debug, Clone)]
pub struct Ticket {
    /// Weak, so a ticket never keeps a closed store's file open.
    group: Weak<GroupCommit>,
    seq: u64,
}

impl GroupCommit {
    pub(crate) fn new(db: Arc<Database>) -> Arc<GroupCommit> {
        Arc::new(GroupCommit {
            db,
            seqs: Mutex::new(Seqs::default()),
            flushed: Condvar::new(),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Seqs> {
        // The counters stay consistent whatever panicked while holding the lock.
        self.seqs.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Count one non-durable commit (call right after it).
    pub(crate) fn wrote(&self) {
        self.lock().written += 1;
    }

    /// A ticket covering every change written so far.
    pub(crate) fn ticket(self: &Arc<Self>) -> Ticket {
        Ticket {
            seq: self.lock().written,
            group: Arc::downgrade(self),
        }
    }
}

impl Ticket {
    /// Block until every change this ticket covers is durable (running the fsync if nobody
    /// else is). An fsync failure is returned to every waiter that needed it.
    pub fn wait(&self) -> Result<(), redb::Error> {
        let Some(g) = self.group.upgrade() else {
            return Err(redb::Error::Io(std::io::Error::other(
                "the store was closed before this change was made durable",
            )));
        };
        let mut s = g.lock();
        loop {
            if s.durable >= self.seq {
                return Ok(());
            }
            if s.flushing {
                s = g.flushed.wait(s).unwrap_or_else(|p| p.into_inner());
                continue;
            }
            s.flushing = true;
            let target = s.written;
            drop(s);
            let flushed = flush(&g.db);
            s = g.lock();
            s.flushing = false;
            if flushed.is_ok() {
                s.durable = s.durable.max(target);
            }
            g.flushed.notify_all();
            flushed?;
        }
    }
}

/// One empty durable commit: persists every non-durable commit before it.
fn flush(db: &Database) -> Result<(), redb::Error> {
    let mut txn = db.begin_write()?;
    txn.set_durability(Durability::Immediate);
    txn.commit()?;
    Ok(())
}
