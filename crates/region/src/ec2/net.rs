//! Address choices inside a subnet: thin glue from the region's `ipnet` types to the pure
//! `addressing` allocators (which own the math and its property tests).

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, Ipv6Addr};

use addressing::choice::Choice;
use addressing::cidr::{AwsIpv4Cidr, Ipv4Cidr, NodePrefix80, Subnet64, Vpc56};
use addressing::{eni, prefix80, vpc::VpcBlockPool};
use ipnet::{Ipv4Net, Ipv6Net};
use rand::RngCore;

fn aws4(subnet: Ipv4Net) -> Option<AwsIpv4Cidr> {
    AwsIpv4Cidr::try_from(Ipv4Cidr::try_from(subnet).ok()?).ok()
}

fn prefixes80(prefixes: &BTreeSet<Ipv6Net>) -> BTreeSet<NodePrefix80> {
    prefixes
        .iter()
        .filter(|p| p.prefix_len() == 80)
        .filter_map(|p| NodePrefix80::new(p.network()).ok())
        .collect()
}

/// The first free IPv4 of `subnet` (EC2 reserves the first four and the last address).
pub fn pick_ipv4(subnet: Ipv4Net, used: &BTreeSet<Ipv4Addr>) -> Option<Ipv4Addr> {
    eni::pick_ipv4(&aws4(subnet)?, used, Choice::First).ok()
}

/// Whether `addr` is one EC2 may hand out in `subnet`.
pub fn ipv4_assignable(subnet: Ipv4Net, addr: Ipv4Addr) -> bool {
    aws4(subnet).is_some_and(|s| subnet.contains(&addr) && !eni::is_reserved_ipv4(&s, addr))
}

/// Whether `addr` is one of the five addresses AWS reserves in the /64 `subnet` (the first four
/// and the last).
pub fn ipv6_reserved(subnet: Ipv6Net, addr: Ipv6Addr) -> bool {
    Subnet64::new(subnet.network()).is_ok_and(|s| eni::is_reserved_ipv6(&s, addr))
}

/// The first address AWS reserves in the /64 `subnet` that lies inside `prefix`, if any.
pub fn reserved_in(subnet: Ipv6Net, prefix: Ipv6Net) -> Option<Ipv6Addr> {
    let s = Subnet64::new(subnet.network()).ok()?;
    eni::reserved_ipv6(&s)
        .into_iter()
        .find(|a| prefix.contains(a))
}

/// A random free /128 in `subnet` that is neither used nor inside a delegated prefix.
pub fn pick_ipv6(
    subnet: Ipv6Net,
    used: &BTreeSet<Ipv6Addr>,
    prefixes: &BTreeSet<Ipv6Net>,
    rng: &mut dyn RngCore,
) -> Option<Ipv6Addr> {
    let s = Subnet64::new(subnet.network()).ok()?;
    eni::pick_ipv6(&s, &prefixes80(prefixes), used, Choice::Random(rng)).ok()
}

/// A free /80 of `subnet` that overlaps no delegated prefix and holds no used address.
pub fn pick_prefix80(
    subnet: Ipv6Net,
    used: &BTreeSet<Ipv6Addr>,
    prefixes: &BTreeSet<Ipv6Net>,
    rng: &mut dyn RngCore,
) -> Option<Ipv6Net> {
    let s = Subnet64::new(subnet.network()).ok()?;
    let p = prefix80::carve(&s, &prefixes80(prefixes), used, Choice::Random(rng)).ok()?;
    Ipv6Net::new(p.network(), 80).ok()
}

/// A random Amazon-provided-style /56 from the documentation pool 2001:db8::/32.
pub fn pick_vpc_block(used: &BTreeSet<Ipv6Net>, rng: &mut dyn RngCore) -> Option<Ipv6Net> {
    let used: BTreeSet<Vpc56> = used
        .iter()
        .filter(|n| n.prefix_len() == 56)
        .filter_map(|n| Vpc56::new(n.network()).ok())
        .collect();
    let b = VpcBlockPool::documentation()
        .allocate(&used, Choice::Random(rng))
        .ok()?;
    Ipv6Net::new(b.network(), 56).ok()
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
        assert!(!ipv4_assignable(n, Ipv4Addr::new(10, 0, 1, 15)));
        assert!(ipv4_assignable(n, Ipv4Addr::new(10, 0, 1, 14)));
    }

    #[test]
    fn prefix80_avoids_used_addresses_and_other_prefixes() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let subnet: Ipv6Net = "2001:db8:1:2::/64".parse().unwrap();
        let mut prefixes = BTreeSet::new();
        let taken: Ipv6Addr = "2001:db8:1:2:5::9".parse().unwrap();
        let used: BTreeSet<Ipv6Addr> = [taken].into();
        for _ in 0..200 {
            let p = pick_prefix80(subnet, &used, &prefixes, &mut rng).unwrap();
            assert!(subnet.contains(&p.network()));
            assert!(!p.contains(&taken));
            assert!(prefixes.insert(p));
        }
    }
}
