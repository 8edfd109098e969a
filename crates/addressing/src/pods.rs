//! The node agent's pod-address pool: hands out /128s from the node's delegated /80, with a
//! cooldown before a released address may be handed out again.
//!
//! Pure: no I/O, no clock. Every call that needs the time takes `now_ms` (milliseconds since the
//! Unix epoch) so the pool is deterministic and testable. Durability is the caller's job: the
//! agent records every allocation and release in its store and rebuilds a pool from that record
//! with [`PodPool::mark_used`] and [`PodPool::mark_cooling`].
//!
//! # Cost
//! Allocation does not depend on how many pods exist:
//! - released addresses wait in a min-heap ordered by the time their cooldown ends; an address
//!   whose cooldown has ended is reused first (O(log n)), which keeps the set of addresses ever
//!   used close to the peak number of pods;
//! - otherwise a monotonic cursor hands out the next fresh offset. Offsets at or beyond the cursor
//!   that are already taken (only possible after a restore) sit in a small ordered set the cursor
//!   skips, each at most once (amortised O(log n)).
//!
//! # Invariants
//! - every offset below the cursor is reserved, live, or waiting in the release heap;
//! - an offset at or beyond the cursor is fresh unless it is reserved or in `ahead`;
//! - no address is live twice; a released address is not live again before its cooldown ends.

use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap, HashMap, HashSet};
use std::net::Ipv6Addr;

use ipnet::Ipv6Net;

/// The only prefix length a node pool accepts: EC2 delegates one /80 per node.
pub const POD_PREFIX_LEN: u8 = 80;

/// How long a released address waits before it can be handed out again, unless configured.
pub const DEFAULT_COOLDOWN_MS: u64 = 30_000;

/// Number of host bits in a /80.
const HOST_BITS: u32 = 128 - POD_PREFIX_LEN as u32;

/// Number of offsets in a /80 (`2^48`).
const SLASH80_SIZE: u64 = 1 << HOST_BITS;

/// What went wrong with a pool operation. Every variant names the offending value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PoolError {
    #[error(
        "pod prefix {prefix} is a /{len}; a node pool takes exactly one /80 (EC2 delegates one /80 \
         per node, e.g. 2001:db8:0:1:abcd::/80)"
    )]
    NotSlash80 { prefix: Ipv6Net, len: u8 },
    #[error("pod prefix {prefix} has host bits set; use its network address {network}")]
    NotNetworkAddress { prefix: Ipv6Net, network: Ipv6Net },
    #[error(
        "address limit {limit} is out of range for a /80: it must be between 1 and {max} \
         (2^48 - 1, every address but the reserved `::`)"
    )]
    BadLimit { limit: u64, max: u64 },
    #[error(
        "no pod address left in {prefix}: {live} in use, {cooling} cooling down; wait for the \
         cooldown or delete unused pods"
    )]
    Exhausted {
        prefix: Ipv6Net,
        live: u64,
        cooling: u64,
    },
    #[error("address {addr} is outside the node's pod prefix {prefix}")]
    OutsidePrefix { addr: Ipv6Addr, prefix: Ipv6Net },
    #[error(
        "address {addr} is beyond this pool's limit of {limit} addresses in {prefix}; raise the \
         limit or drop the record"
    )]
    BeyondLimit {
        addr: Ipv6Addr,
        prefix: Ipv6Net,
        limit: u64,
    },
    #[error("address {addr} is reserved in {prefix} and is never handed to a pod")]
    Reserved { addr: Ipv6Addr, prefix: Ipv6Net },
    #[error("address {addr} is already in use; the state being restored holds it twice")]
    AlreadyLive { addr: Ipv6Addr },
    #[error("address {addr} is already cooling down; the state being restored holds it twice")]
    AlreadyCooling { addr: Ipv6Addr },
    #[error("address {addr} is not allocated, so it cannot be released")]
    NotAllocated { addr: Ipv6Addr },
}

/// Pod addresses of one node /80. See the module docs for the invariants.
#[derive(Debug, Clone)]
pub struct PodPool {
    prefix: Ipv6Net,
    base: u128,
    cooldown_ms: u64,
    /// One past the highest usable offset.
    end: u64,
    /// Next fresh offset candidate.
    cursor: u64,
    /// Offsets never handed out (always contains 0, the prefix's `::`).
    reserved: BTreeSet<u64>,
    /// Taken offsets at or beyond the cursor (live or cooling); the cursor skips them.
    ahead: BTreeSet<u64>,
    /// Offsets handed out and not released.
    live: HashSet<u64>,
    /// Released offsets by the time their cooldown ends.
    released: BinaryHeap<Reverse<(u64, u64)>>,
    /// Same content as `released`, offset → end of cooldown, for membership checks.
    released_at: HashMap<u64, u64>,
}

impl PodPool {
    /// A pool over `prefix` (must be a /80 network address) with the given cooldown.
    /// The prefix's `::` address is reserved.
    pub fn new(prefix: Ipv6Net, cooldown_ms: u64) -> Result<Self, PoolError> {
        if prefix.prefix_len() != POD_PREFIX_LEN {
            return Err(PoolError::NotSlash80 {
                prefix,
                len: prefix.prefix_len(),
            });
        }
        if prefix.trunc() != prefix {
            return Err(PoolError::NotNetworkAddress {
                prefix,
                network: prefix.trunc(),
            });
        }
        Ok(Self {
            prefix,
            base: u128::from(prefix.network()),
            cooldown_ms,
            end: SLASH80_SIZE,
            cursor: 0,
            reserved: BTreeSet::from([0]),
            ahead: BTreeSet::new(),
            live: HashSet::new(),
            released: BinaryHeap::new(),
            released_at: HashMap::new(),
        })
    }

    /// Limit the pool to the first `limit` addresses after `::` (offsets `1..=limit`), e.g. to
    /// cap a node at its max pods or to exercise exhaustion in tests. Call before any
    /// allocation or restore.
    pub fn with_limit(mut self, limit: u64) -> Result<Self, PoolError> {
        let max = SLASH80_SIZE - 1;
        if limit == 0 || limit > max {
            return Err(PoolError::BadLimit { limit, max });
        }
        self.end = limit + 1;
        Ok(self)
    }

    /// Never hand out `addr` (e.g. an address the node itself uses). Call before any allocation
    /// or restore.
    pub fn with_reserved(mut self, addr: Ipv6Addr) -> Result<Self, PoolError> {
        let off = self.offset_of(addr)?;
        self.reserved.insert(off);
        Ok(self)
    }

    /// The /80 this pool hands addresses from.
    pub fn prefix(&self) -> Ipv6Net {
        self.prefix
    }

    /// The cooldown, in milliseconds.
    pub fn cooldown_ms(&self) -> u64 {
        self.cooldown_ms
    }

    /// Number of live (allocated, not released) addresses.
    pub fn live(&self) -> u64 {
        self.live.len() as u64
    }

    /// Number of released addresses whose cooldown has not ended at `now_ms`. O(released).
    pub fn cooling(&self, now_ms: u64) -> u64 {
        self.released_at
            .values()
            .filter(|&&ready| ready > now_ms)
            .count() as u64
    }

    /// Whether `addr` is live.
    pub fn is_live(&self, addr: Ipv6Addr) -> bool {
        self.offset_of(addr)
            .is_ok_and(|off| self.live.contains(&off))
    }

    /// Hand out an address that is not live and not cooling at `now_ms`. Reuses the address
    /// whose cooldown ended first, else the next fresh one.
    pub fn allocate(&mut self, now_ms: u64) -> Result<Ipv6Addr, PoolError> {
        match self.released.peek() {
            Some(&Reverse((ready, off))) if ready <= now_ms => {
                self.released.pop();
                self.released_at.remove(&off);
                self.live.insert(off);
                return Ok(self.addr_of(off));
            }
            _ => {}
        }
        while self.cursor < self.end {
            let off = self.cursor;
            self.cursor += 1;
            if self.reserved.contains(&off) || self.ahead.remove(&off) {
                continue;
            }
            self.live.insert(off);
            return Ok(self.addr_of(off));
        }
        Err(PoolError::Exhausted {
            prefix: self.prefix,
            live: self.live(),
            cooling: self.released_at.len() as u64,
        })
    }

    /// Release a live address; it cools down until `now_ms + cooldown`.
    pub fn release(&mut self, addr: Ipv6Addr, now_ms: u64) -> Result<(), PoolError> {
        let off = self.offset_of(addr)?;
        if !self.live.remove(&off) {
            return Err(PoolError::NotAllocated { addr });
        }
        self.push_released(off, now_ms.saturating_add(self.cooldown_ms));
        Ok(())
    }

    /// Take back an address that [`allocate`](Self::allocate) returned but that was never
    /// handed to anyone (e.g. recording it failed). It is reusable at once, without cooldown.
    pub fn unallocate(&mut self, addr: Ipv6Addr) -> Result<(), PoolError> {
        let off = self.offset_of(addr)?;
        if !self.live.remove(&off) {
            return Err(PoolError::NotAllocated { addr });
        }
        self.push_released(off, 0);
        Ok(())
    }

    /// Restore: `addr` is live (recorded as allocated).
    pub fn mark_used(&mut self, addr: Ipv6Addr) -> Result<(), PoolError> {
        let off = self.restorable(addr)?;
        self.live.insert(off);
        if off >= self.cursor {
            self.ahead.insert(off);
        }
        Ok(())
    }

    /// Restore: `addr` was released at `released_at_ms`; it cools down until
    /// `released_at_ms + cooldown`.
    pub fn mark_cooling(&mut self, addr: Ipv6Addr, released_at_ms: u64) -> Result<(), PoolError> {
        let off = self.restorable(addr)?;
        if off >= self.cursor {
            self.ahead.insert(off);
        }
        self.push_released(off, released_at_ms.saturating_add(self.cooldown_ms));
        Ok(())
    }

    fn push_released(&mut self, off: u64, ready_ms: u64) {
        self.released.push(Reverse((ready_ms, off)));
        self.released_at.insert(off, ready_ms);
    }

    fn restorable(&self, addr: Ipv6Addr) -> Result<u64, PoolError> {
        let off = self.offset_of(addr)?;
        if self.reserved.contains(&off) {
            return Err(PoolError::Reserved {
                addr,
                prefix: self.prefix,
            });
        }
        if off >= self.end {
            return Err(PoolError::BeyondLimit {
                addr,
                prefix: self.prefix,
                limit: self.end - 1,
            });
        }
        if self.live.contains(&off) {
            return Err(PoolError::AlreadyLive { addr });
        }
        if self.released_at.contains_key(&off) {
            return Err(PoolError::AlreadyCooling { addr });
        }
        Ok(off)
    }

    fn offset_of(&self, addr: Ipv6Addr) -> Result<u64, PoolError> {
        if !self.prefix.contains(&addr) {
            return Err(PoolError::OutsidePrefix {
                addr,
                prefix: self.prefix,
            });
        }
        // The address is inside the /80, so its offset has at most 48 significant bits.
        Ok((u128::from(addr) - self.base) as u64)
    }

    fn addr_of(&self, off: u64) -> Ipv6Addr {
        Ipv6Addr::from(self.base | u128::from(off))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn net(s: &str) -> Ipv6Net {
        s.parse().unwrap()
    }

    fn pool() -> PodPool {
        PodPool::new(net("2001:db8:0:1:abcd::/80"), 30_000).unwrap()
    }

    #[test]
    fn rejects_prefixes_that_are_not_slash80() {
        let err = PodPool::new(net("2001:db8::/64"), 1).unwrap_err();
        assert_eq!(
            err,
            PoolError::NotSlash80 {
                prefix: net("2001:db8::/64"),
                len: 64
            }
        );
        assert!(err.to_string().contains("/64"), "{err}");
        assert!(matches!(
            PodPool::new(net("2001:db8::/96"), 1),
            Err(PoolError::NotSlash80 { len: 96, .. })
        ));
    }

    #[test]
    fn rejects_prefix_with_host_bits() {
        let err = PodPool::new(net("2001:db8:0:1:abcd::5/80"), 1).unwrap_err();
        assert_eq!(
            err,
            PoolError::NotNetworkAddress {
                prefix: net("2001:db8:0:1:abcd::5/80"),
                network: net("2001:db8:0:1:abcd::/80")
            }
        );
    }

    #[test]
    fn first_address_skips_the_prefix_zero_address() {
        let mut p = pool();
        assert_eq!(
            p.allocate(0).unwrap(),
            "2001:db8:0:1:abcd::1".parse::<Ipv6Addr>().unwrap()
        );
        assert_eq!(
            p.allocate(0).unwrap(),
            "2001:db8:0:1:abcd::2".parse::<Ipv6Addr>().unwrap()
        );
        assert_eq!(p.live(), 2);
    }

    #[test]
    fn reserved_addresses_are_skipped() {
        let mut p = pool()
            .with_reserved("2001:db8:0:1:abcd::1".parse().unwrap())
            .unwrap();
        assert_eq!(
            p.allocate(0).unwrap(),
            "2001:db8:0:1:abcd::2".parse::<Ipv6Addr>().unwrap()
        );
        assert!(matches!(
            p.mark_used("2001:db8:0:1:abcd::".parse().unwrap()),
            Err(PoolError::Reserved { .. })
        ));
    }

    #[test]
    fn released_address_waits_for_cooldown() {
        let mut p = pool().with_limit(1).unwrap();
        let a = p.allocate(1_000).unwrap();
        p.release(a, 2_000).unwrap();
        assert_eq!(p.cooling(2_000), 1);
        assert!(matches!(
            p.allocate(31_999),
            Err(PoolError::Exhausted {
                live: 0,
                cooling: 1,
                ..
            })
        ));
        assert_eq!(p.allocate(32_000).unwrap(), a);
        assert_eq!(p.cooling(32_000), 0);
    }

    #[test]
    fn cooled_addresses_are_reused_before_fresh_ones() {
        let mut p = pool();
        let a = p.allocate(0).unwrap();
        let _b = p.allocate(0).unwrap();
        p.release(a, 0).unwrap();
        assert_ne!(p.allocate(10).unwrap(), a, "still cooling");
        assert_eq!(p.allocate(30_000).unwrap(), a);
    }

    #[test]
    fn release_of_unknown_or_foreign_address_fails() {
        let mut p = pool();
        let a: Ipv6Addr = "2001:db8:0:1:abcd::9".parse().unwrap();
        assert_eq!(p.release(a, 0), Err(PoolError::NotAllocated { addr: a }));
        let far: Ipv6Addr = "2001:db8::9".parse().unwrap();
        assert!(matches!(
            p.release(far, 0),
            Err(PoolError::OutsidePrefix { .. })
        ));
    }

    #[test]
    fn unallocate_returns_the_address_without_cooldown() {
        let mut p = pool().with_limit(1).unwrap();
        let a = p.allocate(0).unwrap();
        p.unallocate(a).unwrap();
        assert_eq!(p.allocate(0).unwrap(), a);
    }

    #[test]
    fn restore_skips_used_and_cooling_addresses() {
        let mut p = pool().with_limit(4).unwrap();
        let addr = |n: u16| Ipv6Addr::new(0x2001, 0xdb8, 0, 1, 0xabcd, 0, 0, n);
        p.mark_used(addr(2)).unwrap();
        p.mark_cooling(addr(3), 10_000).unwrap();
        assert_eq!(
            p.mark_used(addr(2)),
            Err(PoolError::AlreadyLive { addr: addr(2) })
        );
        assert_eq!(
            p.mark_used(addr(3)),
            Err(PoolError::AlreadyCooling { addr: addr(3) })
        );
        assert!(matches!(
            p.mark_used(addr(5)),
            Err(PoolError::BeyondLimit { .. })
        ));
        assert_eq!(p.allocate(0).unwrap(), addr(1));
        assert_eq!(p.allocate(0).unwrap(), addr(4));
        assert!(matches!(
            p.allocate(39_999),
            Err(PoolError::Exhausted { .. })
        ));
        assert_eq!(p.allocate(40_000).unwrap(), addr(3));
        p.release(addr(2), 50_000).unwrap();
        assert_eq!(p.allocate(80_000).unwrap(), addr(2));
    }

    #[test]
    fn limit_is_validated() {
        assert!(matches!(
            pool().with_limit(0),
            Err(PoolError::BadLimit { .. })
        ));
        assert!(matches!(
            pool().with_limit(1 << 48),
            Err(PoolError::BadLimit { .. })
        ));
        assert!(pool().with_limit((1 << 48) - 1).is_ok());
    }

    #[test]
    fn last_address_of_the_prefix_is_reachable() {
        let mut p = pool();
        let last: Ipv6Addr = "2001:db8:0:1:abcd:ffff:ffff:ffff".parse().unwrap();
        p.mark_used(last).unwrap();
        assert!(p.is_live(last));
        p.release(last, 0).unwrap();
        assert_eq!(p.allocate(30_000).unwrap(), last);
    }

    #[derive(Debug, Clone)]
    enum Op {
        Alloc,
        Release(usize),
        Tick(u64),
        Restart,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => Just(Op::Alloc),
            3 => any::<usize>().prop_map(Op::Release),
            2 => (0u64..20_000).prop_map(Op::Tick),
            1 => Just(Op::Restart),
        ]
    }

    proptest! {
        /// Drives a small pool (so reuse and exhaustion happen) through random operations,
        /// including rebuilds from a record of live and released addresses, and checks the
        /// pool's promises against a model.
        #[test]
        fn pool_never_double_allocates_nor_reuses_early(
            limit in 1u64..12,
            cooldown in 0u64..30_000,
            ops in proptest::collection::vec(op(), 1..200),
        ) {
            let prefix = net("2001:db8:0:1:abcd::/80");
            let mut p = PodPool::new(prefix, cooldown).unwrap().with_limit(limit).unwrap();
            let mut now = 1_000u64;
            let mut live: Vec<Ipv6Addr> = Vec::new();
            // address -> release time (the model of the durable record)
            let mut released: HashMap<Ipv6Addr, u64> = HashMap::new();
            for op in ops {
                match op {
                    Op::Alloc => match p.allocate(now) {
                        Ok(a) => {
                            prop_assert!(prefix.contains(&a));
                            prop_assert_ne!(a, prefix.network());
                            prop_assert!(!live.contains(&a), "{} handed out twice", a);
                            if let Some(at) = released.remove(&a) {
                                prop_assert!(now >= at + cooldown, "{} reused at {} (released {})", a, now, at);
                            }
                            live.push(a);
                        }
                        Err(PoolError::Exhausted { .. }) => {
                            // Exhausted only if every address is live or still cooling.
                            let ready = released.values().filter(|&&at| at + cooldown <= now).count();
                            prop_assert_eq!(ready, 0);
                            prop_assert_eq!(live.len() + released.len(), limit as usize);
                        }
                        Err(e) => prop_assert!(false, "unexpected {e}"),
                    },
                    Op::Release(i) => {
                        if !live.is_empty() {
                            let a = live.swap_remove(i % live.len());
                            p.release(a, now).unwrap();
                            released.insert(a, now);
                        }
                    }
                    Op::Tick(d) => now += d,
                    Op::Restart => {
                        let mut q = PodPool::new(prefix, cooldown).unwrap().with_limit(limit).unwrap();
                        for &a in &live { q.mark_used(a).unwrap(); }
                        for (&a, &at) in &released { q.mark_cooling(a, at).unwrap(); }
                        p = q;
                    }
                }
                prop_assert_eq!(p.live(), live.len() as u64);
            }
        }
    }
}
