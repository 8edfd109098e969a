//! Node prefixes: carving /80s out of a subnet /64 for IPv6 prefix delegation (one /80 per
//! node, on its primary ENI).
//!
//! A /80 can be delegated only if it is inside the subnet, is not already delegated, and holds
//! no address that is assigned to an interface or reserved by AWS ([`crate::eni`]). The
//! reserved addresses sit at both ends of the /64, so its first and last /80 are never
//! delegated and a subnet yields 65 534 node prefixes.

use std::collections::BTreeSet;
use std::net::Ipv6Addr;

use crate::choice::{Choice, find_free};
use crate::cidr::{CidrError, Ipv6Cidr, NodePrefix80, Subnet64};
use crate::eni::reserved_ipv6;

/// Why a node prefix cannot be had.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Prefix80Error {
    /// The requested prefix is not a /80 (or has host bits set).
    #[error(transparent)]
    Cidr(#[from] CidrError),
    /// Every /80 of the subnet is delegated or holds an assigned or reserved address.
    #[error(
        "no free /80 left in subnet `{subnet}` ({delegated} delegated, {assigned} addresses assigned); release node prefixes or launch nodes in another subnet"
    )]
    Exhausted {
        /// The subnet.
        subnet: Subnet64,
        /// How many of the subnet's /80s the caller reported delegated.
        delegated: usize,
        /// How many of the subnet's addresses the caller reported assigned.
        assigned: usize,
    },
    /// The requested prefix is outside the subnet.
    #[error("prefix `{prefix}` is not inside subnet `{subnet}`; choose a /80 of `{subnet}`")]
    OutsideSubnet {
        /// The prefix as requested.
        prefix: NodePrefix80,
        /// The subnet.
        subnet: Subnet64,
    },
    /// The requested prefix is already delegated.
    #[error(
        "prefix `{prefix}` is already delegated to an interface; choose another /80 or let one be carved"
    )]
    Taken {
        /// The prefix as requested.
        prefix: NodePrefix80,
    },
    /// The requested prefix holds an assigned or reserved address.
    #[error(
        "prefix `{prefix}` holds `{address}`, which is assigned to an interface or reserved by AWS; choose another /80 or let one be carved"
    )]
    HoldsAddress {
        /// The prefix as requested.
        prefix: NodePrefix80,
        /// The first address inside it that is taken.
        address: Ipv6Addr,
    },
}

/// Why `prefix` may not be delegated: the first address inside it that is assigned or
/// reserved, if any. One range query plus five comparisons.
fn blocking_address(
    subnet: &Subnet64,
    prefix: &NodePrefix80,
    used_addresses: &BTreeSet<Ipv6Addr>,
) -> Option<Ipv6Addr> {
    let reserved = reserved_ipv6(subnet)
        .into_iter()
        .find(|a| prefix.contains_addr(*a));
    reserved.or_else(|| {
        used_addresses
            .range(prefix.network()..=prefix.last())
            .next()
            .copied()
    })
}

/// Carves a free /80 from `subnet`.
///
/// Guarantees: the result is inside `subnet`, is not in `used_prefixes`, and contains no
/// address of `used_addresses` nor any reserved address. Entries outside the subnet are
/// ignored. Each step of the search costs O(log n) in the sizes of the sets.
pub fn carve(
    subnet: &Subnet64,
    used_prefixes: &BTreeSet<NodePrefix80>,
    used_addresses: &BTreeSet<Ipv6Addr>,
    mut choice: Choice<'_>,
) -> Result<NodePrefix80, Prefix80Error> {
    let count = Subnet64::child_count::<80>();
    let found = find_free(count, &mut choice, |i| {
        let prefix = subnet.child::<80>(i)?;
        let taken = used_prefixes.contains(&prefix)
            || blocking_address(subnet, &prefix, used_addresses).is_some();
        taken.then_some(i + 1)
    });
    found
        .and_then(|i| subnet.child::<80>(i))
        .ok_or_else(|| Prefix80Error::Exhausted {
            subnet: *subnet,
            delegated: used_prefixes
                .range(
                    NodePrefix80::containing(subnet.network())
                        ..=NodePrefix80::containing(subnet.last()),
                )
                .count(),
            assigned: used_addresses
                .range(subnet.network()..=subnet.last())
                .count(),
        })
}

/// Checks a requested /80 (as with `AssignIpv6Addresses` given explicit prefixes): it must be
/// a /80 inside `subnet`, not delegated, holding no assigned or reserved address.
pub fn check(
    subnet: &Subnet64,
    requested: &Ipv6Cidr,
    used_prefixes: &BTreeSet<NodePrefix80>,
    used_addresses: &BTreeSet<Ipv6Addr>,
) -> Result<NodePrefix80, Prefix80Error> {
    let prefix = NodePrefix80::try_from(*requested)?;
    if !subnet.contains_addr(prefix.network()) {
        return Err(Prefix80Error::OutsideSubnet {
            prefix,
            subnet: *subnet,
        });
    }
    if used_prefixes.contains(&prefix) {
        return Err(Prefix80Error::Taken { prefix });
    }
    if let Some(address) = blocking_address(subnet, &prefix, used_addresses) {
        return Err(Prefix80Error::HoldsAddress { prefix, address });
    }
    Ok(prefix)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subnet() -> Subnet64 {
        "2001:db8:1200:1::/64".parse().unwrap()
    }

    #[test]
    fn first_carve_skips_the_prefix_holding_reserved_addresses() {
        let got = carve(&subnet(), &BTreeSet::new(), &BTreeSet::new(), Choice::First).unwrap();
        assert_eq!(got.to_string(), "2001:db8:1200:1:1::/80");
    }

    #[test]
    fn carve_skips_delegated_prefixes_and_prefixes_holding_assigned_addresses() {
        let s = subnet();
        let used: BTreeSet<_> = [s.child::<80>(1).unwrap()].into();
        let addrs: BTreeSet<Ipv6Addr> = ["2001:db8:1200:1:2::7".parse().unwrap()].into();
        let got = carve(&s, &used, &addrs, Choice::First).unwrap();
        assert_eq!(got.to_string(), "2001:db8:1200:1:3::/80");
    }

    #[test]
    fn full_subnet_is_exhausted_with_counts() {
        let s = subnet();
        let used: BTreeSet<_> = (1..0xffff).map(|i| s.child::<80>(i).unwrap()).collect();
        let err = carve(&s, &used, &BTreeSet::new(), Choice::First).unwrap_err();
        assert_eq!(
            err,
            Prefix80Error::Exhausted {
                subnet: s,
                delegated: 65534,
                assigned: 0
            }
        );
        assert!(
            err.to_string()
                .contains("no free /80 left in subnet `2001:db8:1200:1::/64`"),
            "{err}"
        );
    }

    #[test]
    fn check_explains_each_refusal() {
        let s = subnet();
        let used: BTreeSet<_> = [s.child::<80>(5).unwrap()].into();
        let addrs: BTreeSet<Ipv6Addr> = ["2001:db8:1200:1:6::1".parse().unwrap()].into();
        let req = |t: &str| check(&s, &t.parse().unwrap(), &used, &addrs);
        assert!(req("2001:db8:1200:1:7::/80").is_ok());
        assert!(matches!(
            req("2001:db8:1200:1:5::/80"),
            Err(Prefix80Error::Taken { .. })
        ));
        let err = req("2001:db8:1200:1:6::/80").unwrap_err();
        assert!(
            err.to_string().contains("holds `2001:db8:1200:1:6::1`"),
            "{err}"
        );
        assert!(matches!(
            req("2001:db8:1200:1::/80"),
            Err(Prefix80Error::HoldsAddress { .. })
        ));
        assert!(matches!(
            req("2001:db8:1200:2::/80"),
            Err(Prefix80Error::OutsideSubnet { .. })
        ));
        assert!(matches!(
            req("2001:db8:1200:1::/96"),
            Err(Prefix80Error::Cidr(_))
        ));
    }
}
