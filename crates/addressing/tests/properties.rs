//! Property tests: allocators never hand out what is taken, never leave their parent block, and
//! the containment math agrees with a naive bit-by-bit implementation.

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, Ipv6Addr};

use addressing::eni::{is_reserved_ipv4, is_reserved_ipv6, pick_ipv4, pick_ipv6, reserved_ipv6};
use addressing::vpc::{DOCUMENTATION_POOL, check_subnet_ipv4, check_subnet64, nth_subnet64};
use addressing::{
    AwsIpv4Cidr, Choice, Ipv4Cidr, Ipv6Cidr, NodePrefix80, ServiceCidr108, Subnet64, Vpc56,
    VpcBlockPool, prefix80, ula,
};
use proptest::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;

/// Bit `i` (0 = most significant) of a 128-bit address, the slow way.
fn bit128(addr: Ipv6Addr, i: u32) -> bool {
    let octets = addr.octets();
    octets[(i / 8) as usize] & (0x80 >> (i % 8)) != 0
}

/// Naive containment: the first `len` bits agree one by one.
fn naive_contains_v6(net: Ipv6Addr, len: u8, addr: Ipv6Addr) -> bool {
    (0..u32::from(len)).all(|i| bit128(net, i) == bit128(addr, i))
}

fn naive_host_bits_zero_v6(addr: Ipv6Addr, len: u8) -> bool {
    (u32::from(len)..128).all(|i| !bit128(addr, i))
}

fn bit32(addr: Ipv4Addr, i: u32) -> bool {
    addr.octets()[(i / 8) as usize] & (0x80 >> (i % 8)) != 0
}

fn naive_contains_v4(net: Ipv4Addr, len: u8, addr: Ipv4Addr) -> bool {
    (0..u32::from(len)).all(|i| bit32(net, i) == bit32(addr, i))
}

fn naive_overlap_v4(a: &Ipv4Cidr, b: &Ipv4Cidr) -> bool {
    let (a0, a1) = (u32::from(a.network()), u32::from(a.last()));
    let (b0, b1) = (u32::from(b.network()), u32::from(b.last()));
    a0 <= b1 && b0 <= a1
}

fn any_v6() -> impl Strategy<Value = Ipv6Addr> {
    any::<u128>().prop_map(Ipv6Addr::from)
}

/// Two addresses that often share a long prefix, so containment is sometimes true.
fn related_v6() -> impl Strategy<Value = (Ipv6Addr, Ipv6Addr)> {
    (any::<u128>(), any::<u128>(), 0u32..=128).prop_map(|(a, noise, keep)| {
        let flip = noise.checked_shr(keep).unwrap_or(0);
        (Ipv6Addr::from(a), Ipv6Addr::from(a ^ flip))
    })
}

fn subnet64() -> impl Strategy<Value = Subnet64> {
    any::<u64>().prop_map(|hi| Subnet64::containing(Ipv6Addr::from(u128::from(hi) << 64)))
}

/// A choice strategy's seed: `None` is [`Choice::First`].
fn seed() -> impl Strategy<Value = Option<u64>> {
    prop::option::of(any::<u64>())
}

fn with_choice<T>(seed: Option<u64>, f: impl FnOnce(Choice<'_>) -> T) -> T {
    match seed {
        None => f(Choice::First),
        Some(s) => f(Choice::Random(&mut StdRng::seed_from_u64(s))),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn v6_containment_agrees_with_naive_bitwise((net, addr) in related_v6(), len in 0u8..=128) {
        let cidr = Ipv6Cidr::containing(net, len).unwrap();
        prop_assert_eq!(cidr.contains_addr(addr), naive_contains_v6(net, len, addr));
        let inner = Ipv6Cidr::containing(addr, len.saturating_add(3).min(128)).unwrap();
        prop_assert_eq!(cidr.contains(&inner), naive_contains_v6(net, len, addr));
    }

    #[test]
    fn v6_new_accepts_exactly_the_networks(addr in any_v6(), len in 0u8..=128) {
        let ok = Ipv6Cidr::new(addr, len).is_ok();
        prop_assert_eq!(ok, naive_host_bits_zero_v6(addr, len));
        let net = Ipv6Cidr::containing(addr, len).unwrap();
        prop_assert_eq!(net.to_string().parse::<Ipv6Cidr>().unwrap(), net);
        prop_assert!(net.contains_addr(addr));
        prop_assert!(net.contains_addr(net.last()));
    }

    #[test]
    fn v4_containment_and_overlap_agree_with_naive(a in any::<u32>(), b in any::<u32>(), la in 0u8..=32, lb in 0u8..=32) {
        let (a, b) = (Ipv4Addr::from(a), Ipv4Addr::from(b & 0xffff_ff00 | (a & 0xff)));
        let ca = Ipv4Cidr::containing(a, la).unwrap();
        let cb = Ipv4Cidr::containing(b, lb).unwrap();
        prop_assert_eq!(ca.contains_addr(b), naive_contains_v4(ca.network(), la, b));
        prop_assert_eq!(ca.overlaps(&cb), naive_overlap_v4(&ca, &cb));
        prop_assert_eq!(ca.to_string().parse::<Ipv4Cidr>().unwrap(), ca);
    }

    #[test]
    fn subnet64_check_agrees_with_naive_containment(vpc_hi in any::<u64>(), cand_hi in any::<u64>(), near in any::<bool>(), taken in prop::collection::btree_set(any::<u8>(), 0..20)) {
        let vpc = Vpc56::containing(Ipv6Addr::from(u128::from(vpc_hi) << 64));
        // Half the time put the candidate inside the VPC's high 56 bits.
        let cand_hi = if near { (vpc_hi & !0xff) | (cand_hi & 0xff) } else { cand_hi };
        let candidate = Subnet64::containing(Ipv6Addr::from(u128::from(cand_hi) << 64));
        let siblings: BTreeSet<Subnet64> = taken.iter().map(|n| nth_subnet64(&vpc, *n)).collect();
        let inside = naive_contains_v6(vpc.network(), 56, candidate.network());
        let result = check_subnet64(&vpc, &candidate.cidr(), &siblings);
        prop_assert_eq!(result.is_ok(), inside && !siblings.contains(&candidate));
    }

    #[test]
    fn ipv4_subnet_check_agrees_with_naive_overlap_scan(
        base in any::<u16>(),
        siblings in prop::collection::vec((any::<u16>(), 16u8..=28), 0..12),
        cand in (any::<u16>(), 16u8..=28),
    ) {
        let vpc = AwsIpv4Cidr::new(Ipv4Addr::from(u32::from(base) << 16), 16).unwrap();
        let mk = |(low, len): (u16, u8)| {
            Ipv4Cidr::containing(Ipv4Addr::from(u32::from(vpc.network()) | u32::from(low)), len).unwrap()
        };
        let siblings: BTreeSet<AwsIpv4Cidr> = siblings.into_iter().map(|s| AwsIpv4Cidr::try_from(mk(s)).unwrap()).collect();
        let candidate = mk(cand);
        let naive = siblings.iter().all(|s| !naive_overlap_v4(s, &candidate));
        prop_assert_eq!(check_subnet_ipv4(&vpc, &candidate, &siblings).is_ok(), naive);
    }

    #[test]
    fn allocated_vpc_blocks_never_overlap_used_ones(
        used_idx in prop::collection::btree_set(0u128..256, 0..256),
        seed in seed(),
        small in any::<bool>(),
    ) {
        // A /48 pool (256 blocks) makes exhaustion and long taken runs likely; the /32 pool
        // checks the real size.
        let pool = if small { VpcBlockPool::new("2001:db8:77::/48".parse().unwrap()).unwrap() } else { VpcBlockPool::documentation() };
        let used: BTreeSet<Vpc56> = used_idx.iter().filter_map(|i| pool.nth(*i)).collect();
        match with_choice(seed, |c| pool.allocate(&used, c)) {
            Ok(block) => {
                prop_assert!(pool.contains(&block));
                prop_assert!(DOCUMENTATION_POOL.contains(&block.cidr()));
                prop_assert!(used.iter().all(|u| !u.cidr().overlaps(&block.cidr())));
            }
            Err(_) => prop_assert!(small && used.len() == 256),
        }
    }

    #[test]
    fn carved_prefixes_never_overlap_each_other_nor_used_addresses(
        subnet in subnet64(),
        used_idx in prop::collection::btree_set(0u128..48, 0..40),
        addr_offsets in prop::collection::vec((0u128..48, any::<u64>()), 0..40),
        seeds in prop::collection::vec(seed(), 1..12),
    ) {
        let mut used: BTreeSet<NodePrefix80> = used_idx.iter().filter_map(|i| subnet.child::<80>(*i)).collect();
        let addrs: BTreeSet<Ipv6Addr> = addr_offsets
            .iter()
            .map(|(p, low)| Ipv6Addr::from(u128::from(subnet.network()) | (p << 48) | u128::from(*low >> 16)))
            .collect();
        for s in seeds {
            let prefix = with_choice(s, |c| prefix80::carve(&subnet, &used, &addrs, c)).unwrap();
            prop_assert!(subnet.contains(&prefix.cidr()));
            prop_assert!(used.iter().all(|u| !u.cidr().overlaps(&prefix.cidr())));
            prop_assert!(addrs.iter().all(|a| !prefix.contains_addr(*a)));
            prop_assert!(reserved_ipv6(&subnet).iter().all(|a| !prefix.contains_addr(*a)));
            prop_assert!(prefix80::check(&subnet, &prefix.cidr(), &used, &addrs).is_ok());
            used.insert(prefix);
        }
    }

    #[test]
    fn picked_eni_ipv6_is_free_and_outside_delegated_prefixes(
        subnet in subnet64(),
        used_idx in prop::collection::btree_set(0u128..8, 0..8),
        low in prop::collection::btree_set(0u128..64, 0..64),
        seed in seed(),
    ) {
        let used: BTreeSet<NodePrefix80> = used_idx.iter().filter_map(|i| subnet.child::<80>(*i)).collect();
        // Crowd the low addresses of the first unused /80s so the walk has to step.
        let addrs: BTreeSet<Ipv6Addr> = low
            .iter()
            .flat_map(|l| (0..9u128).map(move |p| Ipv6Addr::from(u128::from(subnet.network()) | (p << 48) | l)))
            .collect();
        let a = with_choice(seed, |c| pick_ipv6(&subnet, &used, &addrs, c)).unwrap();
        prop_assert!(subnet.contains_addr(a));
        prop_assert!(!is_reserved_ipv6(&subnet, a));
        prop_assert!(a != subnet.network(), "never the subnet-router anycast");
        prop_assert!(!addrs.contains(&a));
        prop_assert!(used.iter().all(|p| !p.contains_addr(a)));
    }

    #[test]
    fn picked_eni_ipv4_is_free_and_not_reserved(
        base in any::<u32>(),
        len in 24u8..=28,
        used_low in prop::collection::btree_set(0u32..256, 0..256),
        seed in seed(),
    ) {
        let subnet = AwsIpv4Cidr::try_from(Ipv4Cidr::containing(Ipv4Addr::from(base), len).unwrap()).unwrap();
        let used: BTreeSet<Ipv4Addr> = used_low
            .iter()
            .filter_map(|l| subnet.nth(u64::from(*l)))
            .collect();
        match with_choice(seed, |c| pick_ipv4(&subnet, &used, c)) {
            Ok(a) => {
                prop_assert!(subnet.contains_addr(a));
                prop_assert!(!is_reserved_ipv4(&subnet, a));
                prop_assert!(!used.contains(&a));
            }
            Err(_) => prop_assert_eq!(used.len() as u64, subnet.size() - 5 + used.iter().filter(|a| is_reserved_ipv4(&subnet, **a)).count() as u64),
        }
    }

    #[test]
    fn ula_is_in_fd00_8_with_prefix_108_and_new(seed in any::<u64>(), n_existing in 0usize..6) {
        // Existing ones drawn from the same seed force the retry path.
        let mut existing = BTreeSet::new();
        for _ in 0..n_existing {
            let mut rng = StdRng::seed_from_u64(seed);
            existing.insert(ula::generate(&mut rng, &existing).unwrap());
        }
        let got: ServiceCidr108 = ula::generate(&mut StdRng::seed_from_u64(seed), &existing).unwrap();
        let fd00: Ipv6Cidr = "fd00::/8".parse().unwrap();
        prop_assert!(fd00.contains(&got.subnet().cidr()));
        prop_assert_eq!(got.subnet().prefix_len(), 108);
        prop_assert!(!existing.contains(&got));
        prop_assert!(got.contains_addr(got.cluster_dns()));
        // The text form is fdXX:XXXX:XXXX::/108.
        prop_assert!(got.to_string().starts_with("fd") && got.to_string().ends_with("::/108"));
    }
}
