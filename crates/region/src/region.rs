//! `Region`: the state behind one lock, committed to the store after every operation. A write
//! runs on the in-memory state, then its changed rows are committed durably in one transaction;
//! if the operation fails, or the commit fails, the state is rolled back: a rejected request
//! changes nothing.

use std::sync::{Mutex, RwLock, RwLockReadGuard};

use rand::RngCore;

use crate::catalog::Catalog;
use crate::state::State;
use crate::store::{Store, StoreError};

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
    pub rng: &'a mut dyn RngCore,
    /// Seconds since the Unix epoch.
    pub now: u64,
    pub catalog: &'a Catalog,
    pub config: &'a RegionConfig,
}

type Clock = Box<dyn Fn() -> u64 + Send + Sync>;

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
        let state = State::from_records(store.load()?)?;
        Ok(Self {
            state: RwLock::new(state),
            rng: Mutex::new(rng),
            store,
            catalog: Catalog::builtin(),
            config,
            clock,
        })
    }

    pub fn config(&self) -> &RegionConfig {
        &self.config
    }

    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

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
                self.recover();
                self.state.read().unwrap_or_else(|p| p.into_inner())
            }
        }
    }

    fn recover(&self) {
        let mut g = self.state.write().unwrap_or_else(|p| p.into_inner());
        g.rollback();
        self.state.clear_poison();
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
        let mut state = self.state.write().unwrap_or_else(|p| {
            let mut g = p.into_inner();
            g.rollback();
            g
        });
        self.state.clear_poison();
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

    /// Run one operation: all or nothing, durable before it returns `Ok`.
    pub fn write<R, E: From<StoreError>>(
        &self,
        op: impl FnOnce(&mut State, &mut Env) -> Result<R, E>,
    ) -> Result<R, E> {
        let mut state = self.state.write().unwrap_or_else(|p| {
            let mut g = p.into_inner();
            g.rollback();
            g
        });
        self.state.clear_poison();
        let mut rng = self.rng.lock().unwrap_or_else(|p| p.into_inner());
        let mut env = Env {
            rng: &mut **rng,
            now: (self.clock)(),
            catalog: &self.catalog,
            config: &self.config,
        };
        match op(&mut state, &mut env) {
            Ok(r) => {
                let changes = match state.take_changes() {
                    Ok(c) => c,
                    Err(e) => {
                        state.rollback();
                        return Err(StoreError::Io(format!("cannot serialize a row: {e}")).into());
                    }
                };
                if let Err(e) = self.store.commit(&changes) {
                    // The journal was consumed by take_changes: restore from the store, which
                    // still holds the last committed state.
                    tracing::error!(error = %e, "commit failed; reloading the last committed state");
                    match self.store.load().and_then(State::from_records) {
                        Ok(s) => *state = s,
                        Err(e2) => tracing::error!(error = %e2, "reload failed too"),
                    }
                    return Err(e.into());
                }
                Ok(r)
            }
            Err(e) => {
                state.rollback();
                Err(e)
            }
        }
    }
}
