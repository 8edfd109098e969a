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
                let changes = match state.changes() {
                    Ok(c) => c,
                    Err(e) => {
                        state.rollback();
                        return Err(StoreError::Io(format!("cannot serialize a row: {e}")).into());
                    }
                };
                if let Err(e) = self.store.commit(&changes) {
                    // The store applied nothing; undo in memory from the journal. (Reloading
                    // from the store instead could fail too, e.g. on a full disk, and would
                    // then leave changes that were never committed in the served state.)
                    state.rollback();
                    tracing::error!(error = %e, "commit failed; the operation changed nothing");
                    return Err(e.into());
                }
                state.clear_journals();
                Ok(r)
            }
            Err(e) => {
                state.rollback();
                Err(e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::*;
    use crate::ec2::vpc::CreateVpc;
    use crate::store::{Change, MemStore, Record};

    /// A store that fails every call while `down` is set, as a full disk does.
    #[derive(Default)]
    struct Flaky {
        rows: MemStore,
        down: std::sync::Arc<AtomicBool>,
    }

    impl Store for Flaky {
        fn load(&self) -> Result<Vec<Record>, StoreError> {
            if self.down.load(Ordering::SeqCst) {
                return Err(StoreError::Io("No space left on device".into()));
            }
            self.rows.load()
        }
        fn commit(&self, changes: &[Change]) -> Result<(), StoreError> {
            if self.down.load(Ordering::SeqCst) {
                return Err(StoreError::Io("No space left on device".into()));
            }
            self.rows.commit(changes)
        }
    }

    fn create_vpc(region: &Region) -> Result<String, crate::ec2::Ec2Error> {
        region.write(|s, env| {
            s.create_vpc(
                env,
                CreateVpc {
                    cidr_block: Some("10.0.0.0/16".into()),
                    amazon_provided_ipv6: true,
                    ..Default::default()
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
