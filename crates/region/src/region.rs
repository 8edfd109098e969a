//! `Region`: the state behind one lock, committed to the store after every operation. A write
//! runs on the in-memory state, then its changed rows are committed durably in one transaction
//! as the next revision; if the operation fails, or the commit fails, the state is rolled back:
//! a rejected request changes nothing.
//!
//! On a shared store (etcd, several replicas) the in-memory state is only a cache of one
//! revision: [`Region::sync`] catches it up with the store before a request is served, and a
//! commit made from a stale revision is refused by the store, caught up and run again.

use std::sync::{Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use rand::RngCore;

use crate::catalog::Catalog;
use crate::state::State;
use crate::store::{Changes, Record, Store, StoreError};

/// Fixed facts of a region.
#[derive(Debug, Clone)]
pub struct RegionConfig {
    /// e.g. `us-east-1`.
    pub name: String,
    /// The 12-digit account that owns everything.
    pub account_id: String,
}

/// What an operation may use besides the state: randomness, the time, the catalogue.
pub struct Env<'a> {
    /// The random source (ids, addresses); a seeded one in tests.
    pub rng: &'a mut dyn RngCore,
    /// Seconds since the Unix epoch.
    pub now: u64,
    /// The instance-type catalogue.
    pub catalog: &'a Catalog,
    /// The region's name and account.
    pub config: &'a RegionConfig,
}

type Clock = Box<dyn Fn() -> u64 + Send + Sync>;

/// The region: its state in memory behind a lock, the durable store every write commits to, and the clock and random source operations get through [`Env`].
pub struct Region {
    state: RwLock<State>,
    rng: Mutex<Box<dyn RngCore + Send>>,
    store: Box<dyn Store>,
    catalog: Catalog,
    config: RegionConfig,
    clock: Clock,
}

impl Region {
    /// Load the region from `store`.
    pub fn open(
        config: RegionConfig,
        store: Box<dyn Store>,
        rng: Box<dyn RngCore + Send>,
        clock: Clock,
    ) -> Result<Self, StoreError> {
        let snap = store.load()?;
        let mut state = State::from_records(snap.records)?;
        state.revision = snap.revision;
        Ok(Self {
            state: RwLock::new(state),
            rng: Mutex::new(rng),
            store,
            catalog: Catalog::builtin(),
            config,
            clock,
        })
    }

    /// The region's name and account.
    pub fn config(&self) -> &RegionConfig {
        &self.config
    }

    /// The instance-type catalogue.
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// The region clock's time (seconds since the Unix epoch).
    pub fn now(&self) -> u64 {
        (self.clock)()
    }

    /// A consistent read of the whole state.
    pub fn read(&self) -> RwLockReadGuard<'_, State> {
        // A poisoned lock means a writer panicked mid-operation; its journal is still there, so
        // the state is recovered by rolling back rather than by propagating the panic.
        match self.state.read() {
            Ok(g) => g,
            Err(poisoned) => {
                drop(poisoned);
                drop(self.state_for_write());
                self.state.read().unwrap_or_else(|p| p.into_inner())
            }
        }
    }

    /// The state, write-locked. A lock poisoned by an operation that panicked is taken over:
    /// what that operation left half done is rolled back and the poison cleared.
    fn state_for_write(&self) -> RwLockWriteGuard<'_, State> {
        let g = self.state.write().unwrap_or_else(|p| {
            let mut g = p.into_inner();
            g.rollback();
            g
        });
        self.state.clear_poison();
        g
    }

    /// A fresh request id.
    pub fn request_id(&self) -> String {
        let mut rng = self.rng.lock().unwrap_or_else(|p| p.into_inner());
        crate::ids::request_id(&mut **rng)
    }

    /// Run one operation as [`Region::write`] would, then undo it: nothing is kept and nothing
    /// reaches the store. Answers what the operation would have answered (EC2's `DryRun`).
    pub fn dry_run<R, E>(
        &self,
        op: impl FnOnce(&mut State, &mut Env) -> Result<R, E>,
    ) -> Result<R, E> {
        let mut state = self.state_for_write();
        let mut rng = self.rng.lock().unwrap_or_else(|p| p.into_inner());
        let mut env = Env {
            rng: &mut **rng,
            now: (self.clock)(),
            catalog: &self.catalog,
            config: &self.config,
        };
        let r = op(&mut state, &mut env);
        state.rollback();
        r
    }

    /// Most times an operation is run again after another replica committed first.
    const MAX_ATTEMPTS: usize = 32;

    /// Run one operation: all or nothing, durable before it returns `Ok`. On a shared store the
    /// operation may run several times (each on the store's latest state) until its commit is
    /// the next revision, so `op` must depend only on its arguments.
    pub fn write<R, E: From<StoreError>>(
        &self,
        mut op: impl FnMut(&mut State, &mut Env) -> Result<R, E>,
    ) -> Result<R, E> {
        let mut state = self.state_for_write();
        let mut rng = self.rng.lock().unwrap_or_else(|p| p.into_inner());
        for _ in 0..Self::MAX_ATTEMPTS {
            let mut env = Env {
                rng: &mut **rng,
                now: (self.clock)(),
                catalog: &self.catalog,
                config: &self.config,
            };
            let r = match op(&mut state, &mut env) {
                Ok(r) => r,
                Err(e) => {
                    state.rollback();
                    return Err(e);
                }
            };
            let changes = match state.changes() {
                Ok(c) => c,
                Err(e) => {
                    state.rollback();
                    return Err(StoreError::Io(format!("cannot serialize a row: {e}")).into());
                }
            };
            match self.store.commit(&changes, state.revision) {
                Ok(rev) => {
                    state.clear_journals();
                    state.revision = rev;
                    return Ok(r);
                }
                Err(StoreError::Conflict { base }) => {
                    state.rollback();
                    tracing::debug!(base, "another replica committed first; catching up");
                    self.catch_up(&mut state)?;
                }
                Err(e) => {
                    state.rollback();
                    tracing::error!(error = %e, "commit failed; the operation changed nothing");
                    return Err(e.into());
                }
            }
        }
        Err(StoreError::Unavailable(format!(
            "other replicas committed first {} times in a row",
            Self::MAX_ATTEMPTS
        ))
        .into())
    }

    /// Bring the cached state up to the store's latest revision (a no-op on a store no other
    /// process writes). Run before serving a request, so a read sees every write acknowledged
    /// before it, by any replica.
    pub fn sync(&self) -> Result<(), StoreError> {
        if !self.store.shared() {
            return Ok(());
        }
        let mut state = self.state_for_write();
        self.catch_up(&mut state)
    }

    fn catch_up(&self, state: &mut State) -> Result<(), StoreError> {
        let head = self.store.revision()?;
        if head == state.revision {
            return Ok(());
        }
        if let Some(r) = self.store.rows_since(state.revision) {
            let r = r?;
            let live: std::collections::HashSet<(&str, &str)> = r
                .keys
                .iter()
                .map(|(t, k)| (t.as_str(), k.as_str()))
                .collect();
            let gone: Vec<(&'static str, String)> = state
                .keys()
                .into_iter()
                .filter(|(t, k)| !live.contains(&(*t, k.as_str())))
                .collect();
            for (t, k) in gone {
                state.apply(&crate::store::Change {
                    table: t.to_string(),
                    key: k,
                    value: None,
                })?;
            }
            for rec in r.written {
                state.apply(&crate::store::Change {
                    table: rec.table,
                    key: rec.key,
                    value: Some(rec.value),
                })?;
            }
            state.revision = r.revision;
            return Ok(());
        }
        match self.store.changes_since(state.revision, usize::MAX) {
            Ok(ch) => {
                for e in &ch.events {
                    state.apply(&e.change)?;
                }
                state.revision = ch.through;
                Ok(())
            }
            Err(e) => {
                // Too far behind for the log, or the replay failed: reload everything (one
                // consistent read of the store; if that fails too, the request fails).
                tracing::debug!(error = %e, "catching up by a full reload");
                let snap = self.store.load()?;
                let mut fresh = State::from_records(snap.records)?;
                fresh.revision = snap.revision;
                *state = fresh;
                Ok(())
            }
        }
    }

    /// Whether other processes write the region's store too (see [`Region::sync`]).
    pub fn is_shared(&self) -> bool {
        self.store.shared()
    }

    /// The revision of the cached state (the last commit it includes).
    pub fn revision(&self) -> u64 {
        self.read().revision
    }

    /// Every row at the cached revision (call [`Region::sync`] first for the latest).
    pub fn snapshot(&self) -> Result<(u64, Vec<Record>), StoreError> {
        let g = self.read();
        let rows = g
            .records()
            .map_err(|e| StoreError::Io(format!("cannot serialize a row: {e}")))?;
        Ok((g.revision, rows))
    }

    /// The changes committed after revision `since` (see [`Store::changes_since`]).
    pub fn changes_since(&self, since: u64, max: usize) -> Result<Changes, StoreError> {
        self.store.changes_since(since, max)
    }

    /// Block until the store's revision passes `after` or `timeout` elapses.
    pub fn wait_past(&self, after: u64, timeout: Duration) -> Result<u64, StoreError> {
        self.store.wait_past(after, timeout)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::*;
    use crate::ec2::vpc::CreateVpc;
    use crate::store::{Change, MemStore, Snapshot};

    /// A store that fails every call while `down` is set, as a full disk does.
    #[derive(Default)]
    struct Flaky {
        rows: MemStore,
        down: std::sync::Arc<AtomicBool>,
    }

    impl Store for Flaky {
        fn load(&self) -> Result<Snapshot, StoreError> {
            if self.down.load(Ordering::SeqCst) {
                return Err(StoreError::Io("No space left on device".into()));
            }
            self.rows.load()
        }
        fn commit(&self, changes: &[Change], base: u64) -> Result<u64, StoreError> {
            if self.down.load(Ordering::SeqCst) {
                return Err(StoreError::Io("No space left on device".into()));
            }
            self.rows.commit(changes, base)
        }
        fn revision(&self) -> Result<u64, StoreError> {
            self.rows.revision()
        }
        fn changes_since(&self, since: u64, max: usize) -> Result<Changes, StoreError> {
            self.rows.changes_since(since, max)
        }
        fn wait_past(&self, after: u64, timeout: Duration) -> Result<u64, StoreError> {
            self.rows.wait_past(after, timeout)
        }
    }

    fn create_vpc(region: &Region) -> Result<String, crate::ec2::Ec2Error> {
        region.write(|s, env| {
            s.create_vpc(
                env,
                CreateVpc {
                    amazon_provided_ipv6: true,
                    ..CreateVpc::new("10.0.0.0/16".parse().unwrap())
                },
            )
            .map(|v| v.id)
        })
    }

    #[test]
    fn a_failed_commit_changes_nothing_even_when_the_store_cannot_be_reread() {
        let store = Flaky::default();
        let down = std::sync::Arc::clone(&store.down);
        let region = Region::open(
            RegionConfig {
                name: "us-east-1".into(),
                account_id: "123456789012".into(),
            },
            Box::new(store),
            Box::new(<rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(1)),
            Box::new(|| 1_700_000_000),
        )
        .unwrap();
        let first = create_vpc(&region).unwrap();
        down.store(true, Ordering::SeqCst);
        assert!(create_vpc(&region).is_err());
        let ids: Vec<String> = region.read().vpcs.values().map(|v| v.id.clone()).collect();
        assert_eq!(
            ids,
            vec![first.clone()],
            "a refused write shows in the served state"
        );
        down.store(false, Ordering::SeqCst);
        let second = create_vpc(&region).unwrap();
        assert_eq!(region.read().vpcs.len(), 2);
        assert!(region.read().vpcs.contains(&first) && region.read().vpcs.contains(&second));
    }
}
