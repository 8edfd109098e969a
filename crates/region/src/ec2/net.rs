//! Address choices inside a subnet: the region-side glue over the pure `addressing` math.

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, Ipv6Addr};

use ipnet::{Ipv4Net, Ipv6Net};
use rand::RngCore;

/// The first free IPv4 of `subnet` (EC2 reserves the first four and the last address).
pub fn pick_ipv4(subnet: Ipv4Net, used: &BTreeSet<Ipv4Addr>) -> Option<Ipv4Addr> {
    let first = u32::from(subnet.network()).checked_add(4)?;
    let last = u32::from(subnet.broadcast()).checked_sub(1)?;
    (first..=last)
        .map(Ipv4Addr::from)
        .find(|a| !used.contains(a))
}

/// Whether `addr` is one EC2 may hand out in `subnet`.
pub fn ipv4_assignable(subnet: Ipv4Net, addr: Ipv4Addr) -> bool {
    let a = u32::from(addr);
    subnet.contains(&addr)
        && a >= u32::from(subnet.network()) + 4
        && a < u32::from(subnet.broadcast())
}

fn in_any(addr: Ipv6Addr, prefixes: &BTreeSet<Ipv6Net>) -> bool {
    prefixes.iter().any(|p| p.contains(&addr))
}

/// A random free /128 in `subnet` that is neither used nor inside a delegated prefix.
pub fn pick_ipv6(
    subnet: Ipv6Net,
    used: &BTreeSet<Ipv6Addr>,
    prefixes: &BTreeSet<Ipv6Net>,
    rng: &mut dyn RngCore,
) -> Option<Ipv6Addr> {
    let base = u128::from(subnet.network());
    let host_bits = 128 - u32::from(subnet.prefix_len());
    let mask = if host_bits >= 128 {
        u128::MAX
    } else {
        (1u128 << host_bits) - 1
    };
    for _ in 0..64 {
        let r = ((u128::from(rng.next_u64()) << 64) | u128::from(rng.next_u64())) & mask;
        if r < 4 || r == mask {
            continue;
        }
        let a = Ipv6Addr::from(base | r);
        if !used.contains(&a) && !in_any(a, prefixes) {
            return Some(a);
        }
    }
    None
}

/// A free /80 of `subnet` that overlaps no delegated prefix and holds no used address.
pub fn pick_prefix80(
    subnet: Ipv6Net,
    used: &BTreeSet<Ipv6Addr>,
    prefixes: &BTreeSet<Ipv6Net>,
    rng: &mut dyn RngCore,
) -> Option<Ipv6Net> {
    if subnet.prefix_len() > 80 {
        return None;
    }
    let base = u128::from(subnet.network());
    let slots_bits = 80 - u32::from(subnet.prefix_len());
    let slots: u128 = 1u128 << slots_bits;
    let free = |slot: u128| -> Option<Ipv6Net> {
        let net = Ipv6Net::new(Ipv6Addr::from(base | (slot << 48)), 80).ok()?;
        let clash = prefixes
            .iter()
            .any(|p| p.contains(&net.network()) || net.contains(&p.network()))
            || used.range(net.network()..=net.broadcast()).next().is_some();
        (!clash).then_some(net)
    };
    for _ in 0..64 {
        let slot = u128::from(rng.next_u64()) % slots;
        if slot == 0 {
            continue;
        }
        if let Some(n) = free(slot) {
            return Some(n);
        }
    }
    (1..slots).find_map(free)
}

/// A random Amazon-provided-style /56 from the documentation pool 2001:db8::/32.
pub fn pick_vpc_block(used: &BTreeSet<Ipv6Net>, rng: &mut dyn RngCore) -> Option<Ipv6Net> {
    let pool = u128::from(Ipv6Addr::new(0x2001, 0x0db8, 0, 0, 0, 0, 0, 0));
    let overlaps = |n: &Ipv6Net| {
        used.iter()
            .any(|u| u.contains(&n.network()) || n.contains(&u.network()))
    };
    for _ in 0..256 {
        let slot = u128::from(rng.next_u32() & 0x00ff_ffff);
        if slot == 0 {
            continue;
        }
        let n = Ipv6Net::new(Ipv6Addr::from(pool | (slot << 72)), 56).ok()?;
        if !overlaps(&n) {
            return Some(n);
        }
    }
    None
}

/// A locally administered unicast MAC like EC2's (`0e:..`).
pub fn mac(rng: &mut dyn RngCore) -> String {
    let b = rng.next_u64().to_be_bytes();
    format!(
        "0e:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
        b[0], b[1], b[2], b[3], b[4]
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn ipv4_skips_the_four_reserved_and_the_last() {
        let n: Ipv4Net = "10.0.1.0/28".parse().unwrap();
        let mut used = BTreeSet::new();
        assert_eq!(pick_ipv4(n, &used), Some("10.0.1.4".parse().unwrap()));
        for i in 4..15 {
            used.insert(Ipv4Addr::new(10, 0, 1, i));
        }
        assert_eq!(pick_ipv4(n, &used), None);
    }

    #[test]
    fn prefix80_avoids_used_addresses_and_other_prefixes() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let subnet: Ipv6Net = "2001:db8:1:2::/64".parse().unwrap();
        let mut prefixes = BTreeSet::new();
        let used: BTreeSet<Ipv6Addr> = ["2001:db8:1:2:5::9".parse().unwrap()].into();
        for _ in 0..200 {
            let p = pick_prefix80(subnet, &used, &prefixes, &mut rng).unwrap();
            assert!(subnet.contains(&p.network()));
            assert!(!p.contains(&"2001:db8:1:2:5::9".parse::<Ipv6Addr>().unwrap()));
            assert!(prefixes.insert(p));
        }
    }
}
