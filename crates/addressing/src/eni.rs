//! Single addresses for network interfaces (ENIs, Fargate units): picking or checking a free
//! IPv6 or IPv4 address of a subnet, and the addresses AWS reserves in every subnet.
//!
//! AWS reserves the first four addresses and the last address of every subnet CIDR block, for
//! IPv4 and for IPv6 alike; for IPv6 the first of them is also the subnet-router anycast
//! address (`<subnet>::`). An IPv6 address is also unavailable when it lies inside a /80
//! delegated to a node ([`crate::prefix80`]).

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::choice::{Choice, find_free};
use crate::cidr::{AwsIpv4Cidr, NodePrefix80, Subnet64};

/// How many addresses AWS reserves at the start of every subnet.
pub const RESERVED_AT_START: u8 = 4;

/// Why an interface address cannot be had.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EniAddressError {
    /// No free IPv6 address is left (every address is assigned, reserved or delegated).
    #[error(
        "no free IPv6 address left in subnet `{subnet}`; release addresses or node prefixes, or use another subnet"
    )]
    Ipv6Exhausted {
        /// The subnet.
        subnet: Subnet64,
    },
    /// No free IPv4 address is left.
    #[error(
        "no free IPv4 address left in subnet `{subnet}` ({in_use} assigned, 5 reserved by AWS); release addresses or use a larger subnet"
    )]
    Ipv4Exhausted {
        /// The subnet.
        subnet: AwsIpv4Cidr,
        /// How many of the subnet's addresses the caller reported assigned.
        in_use: usize,
    },
    /// A requested address outside the subnet.
    #[error("address `{address}` is not inside subnet `{subnet}`; choose an address of `{subnet}`")]
    OutsideSubnet {
        /// The address as requested.
        address: IpAddr,
        /// The subnet, as text.
        subnet: String,
    },
    /// A requested address that AWS reserves.
    #[error(
        "address `{address}` is reserved by AWS in subnet `{subnet}` (the first four and the last address of a subnet are); choose another address"
    )]
    Reserved {
        /// The address as requested.
        address: IpAddr,
        /// The subnet, as text.
        subnet: String,
    },
    /// A requested address already assigned.
    #[error(
        "address `{address}` is already assigned in its subnet; choose another address or let one be picked"
    )]
    InUse {
        /// The address as requested.
        address: IpAddr,
    },
    /// A requested IPv6 address inside a node's delegated /80.
    #[error(
        "address `{address}` lies inside `{prefix}`, a prefix delegated to a node; choose an address outside delegated prefixes"
    )]
    InDelegatedPrefix {
        /// The address as requested.
        address: Ipv6Addr,
        /// The delegated prefix containing it.
        prefix: NodePrefix80,
    },
}

/// The five IPv6 addresses AWS reserves in `subnet`: `::`, `::1`, `::2`, `::3` and the last.
pub fn reserved_ipv6(subnet: &Subnet64) -> [Ipv6Addr; 5] {
    let base = u128::from(subnet.network());
    [
        base,
        base | 1,
        base | 2,
        base | 3,
        u128::from(subnet.last()),
    ]
    .map(Ipv6Addr::from)
}

/// Whether `addr` is one of the addresses AWS reserves in `subnet`.
pub fn is_reserved_ipv6(subnet: &Subnet64, addr: Ipv6Addr) -> bool {
    subnet.contains_addr(addr) && reserved_ipv6(subnet).contains(&addr)
}

/// The five IPv4 addresses AWS reserves in `subnet`: the network, `.1` (router), `.2` (DNS),
/// `.3` (future use) and the last (broadcast).
pub fn reserved_ipv4(subnet: &AwsIpv4Cidr) -> [Ipv4Addr; 5] {
    let base = u32::from(subnet.network());
    [base, base | 1, base | 2, base | 3, u32::from(subnet.last())].map(Ipv4Addr::from)
}

/// Whether `addr` is one of the addresses AWS reserves in `subnet`.
pub fn is_reserved_ipv4(subnet: &AwsIpv4Cidr, addr: Ipv4Addr) -> bool {
    subnet.contains_addr(addr) && reserved_ipv4(subnet).contains(&addr)
}

/// A free IPv6 address of `subnet` for an interface.
///
/// Guarantees: the result is inside `subnet`, is not reserved ([`reserved_ipv6`]), is not in
/// `used_addresses` and lies in none of `used_prefixes`. Entries outside the subnet are
/// ignored. A delegated /80 met during the search is skipped in one step.
pub fn pick_ipv6(
    subnet: &Subnet64,
    used_prefixes: &BTreeSet<NodePrefix80>,
    used_addresses: &BTreeSet<Ipv6Addr>,
    mut choice: Choice<'_>,
) -> Result<Ipv6Addr, EniAddressError> {
    let base = u128::from(subnet.network());
    let count = Subnet64::child_count::<128>();
    let first_free = u128::from(RESERVED_AT_START);
    let found = find_free(count, &mut choice, |i| {
        if i < first_free {
            return Some(first_free);
        }
        if i == count - 1 {
            return Some(count);
        }
        let addr = Ipv6Addr::from(base | i);
        let prefix = NodePrefix80::containing(addr);
        if used_prefixes.contains(&prefix) {
            return Some((u128::from(prefix.last()) - base) + 1);
        }
        used_addresses.contains(&addr).then_some(i + 1)
    });
    found
        .map(|i| Ipv6Addr::from(base | i))
        .ok_or(EniAddressError::Ipv6Exhausted { subnet: *subnet })
}

/// Checks that a requested IPv6 address is available in `subnet` (inside, not reserved, not
/// assigned, not in a delegated /80).
pub fn check_ipv6(
    subnet: &Subnet64,
    address: Ipv6Addr,
    used_prefixes: &BTreeSet<NodePrefix80>,
    used_addresses: &BTreeSet<Ipv6Addr>,
) -> Result<Ipv6Addr, EniAddressError> {
    if !subnet.contains_addr(address) {
        return Err(EniAddressError::OutsideSubnet {
            address: address.into(),
            subnet: subnet.to_string(),
        });
    }
    if is_reserved_ipv6(subnet, address) {
        return Err(EniAddressError::Reserved {
            address: address.into(),
            subnet: subnet.to_string(),
        });
    }
    let prefix = NodePrefix80::containing(address);
    if used_prefixes.contains(&prefix) {
        return Err(EniAddressError::InDelegatedPrefix { address, prefix });
    }
    if used_addresses.contains(&address) {
        return Err(EniAddressError::InUse {
            address: address.into(),
        });
    }
    Ok(address)
}

/// A free IPv4 address of `subnet` for an interface.
///
/// Guarantees: the result is inside `subnet`, is not reserved ([`reserved_ipv4`]) and is not
/// in `used`.
pub fn pick_ipv4(
    subnet: &AwsIpv4Cidr,
    used: &BTreeSet<Ipv4Addr>,
    mut choice: Choice<'_>,
) -> Result<Ipv4Addr, EniAddressError> {
    let count = u128::from(subnet.size());
    let first_free = u128::from(RESERVED_AT_START);
    let addr_at = |i: u128| subnet.nth(u64::try_from(i).unwrap_or(u64::MAX));
    let found = find_free(count, &mut choice, |i| {
        if i < first_free {
            return Some(first_free);
        }
        if i == count - 1 {
            return Some(count);
        }
        let addr = addr_at(i)?;
        used.contains(&addr).then_some(i + 1)
    });
    found
        .and_then(addr_at)
        .ok_or_else(|| EniAddressError::Ipv4Exhausted {
            subnet: *subnet,
            in_use: used.range(subnet.network()..=subnet.last()).count(),
        })
}

/// Checks that a requested IPv4 address is available in `subnet` (inside, not reserved, not
/// assigned).
pub fn check_ipv4(
    subnet: &AwsIpv4Cidr,
    address: Ipv4Addr,
    used: &BTreeSet<Ipv4Addr>,
) -> Result<Ipv4Addr, EniAddressError> {
    if !subnet.contains_addr(address) {
        return Err(EniAddressError::OutsideSubnet {
            address: address.into(),
            subnet: subnet.to_string(),
        });
    }
    if is_reserved_ipv4(subnet, address) {
        return Err(EniAddressError::Reserved {
            address: address.into(),
            subnet: subnet.to_string(),
        });
    }
    if used.contains(&address) {
        return Err(EniAddressError::InUse {
            address: address.into(),
        });
    }
    Ok(address)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subnet() -> Subnet64 {
        "2001:db8:1200:1::/64".parse().unwrap()
    }

    #[test]
    fn first_ipv6_pick_skips_the_subnet_router_anycast_and_reserved_addresses() {
        let got = pick_ipv6(&subnet(), &BTreeSet::new(), &BTreeSet::new(), Choice::First).unwrap();
        assert_eq!(got, "2001:db8:1200:1::4".parse::<Ipv6Addr>().unwrap());
    }

    #[test]
    fn ipv6_pick_skips_used_addresses_and_whole_delegated_prefixes() {
        let s = subnet();
        let prefixes: BTreeSet<NodePrefix80> = [s.child::<80>(0).unwrap()].into();
        let used: BTreeSet<Ipv6Addr> = ["2001:db8:1200:1:1::".parse().unwrap()].into();
        let got = pick_ipv6(&s, &prefixes, &used, Choice::First).unwrap();
        assert_eq!(got, "2001:db8:1200:1:1::1".parse::<Ipv6Addr>().unwrap());
    }

    #[test]
    fn ipv6_check_names_the_delegated_prefix() {
        let s = subnet();
        let prefixes: BTreeSet<NodePrefix80> = [s.child::<80>(3).unwrap()].into();
        let addr: Ipv6Addr = "2001:db8:1200:1:3::99".parse().unwrap();
        let err = check_ipv6(&s, addr, &prefixes, &BTreeSet::new()).unwrap_err();
        assert!(
            err.to_string().contains("`2001:db8:1200:1:3::/80`"),
            "{err}"
        );
        let anycast = s.network();
        assert!(matches!(
            check_ipv6(&s, anycast, &prefixes, &BTreeSet::new()),
            Err(EniAddressError::Reserved { .. })
        ));
        let ok: Ipv6Addr = "2001:db8:1200:1:4::99".parse().unwrap();
        assert_eq!(check_ipv6(&s, ok, &prefixes, &BTreeSet::new()), Ok(ok));
    }

    #[test]
    fn ipv4_pick_skips_the_first_four_and_the_last() {
        let s: AwsIpv4Cidr = "10.0.1.0/28".parse().unwrap();
        let mut used = BTreeSet::new();
        let mut got = Vec::new();
        while let Ok(a) = pick_ipv4(&s, &used, Choice::First) {
            used.insert(a);
            got.push(a.octets()[3]);
        }
        assert_eq!(got, (4..=14).collect::<Vec<u8>>());
        let err = pick_ipv4(&s, &used, Choice::First).unwrap_err();
        assert_eq!(
            err,
            EniAddressError::Ipv4Exhausted {
                subnet: s,
                in_use: 11
            }
        );
        assert!(err.to_string().contains("`10.0.1.0/28`"), "{err}");
    }

    #[test]
    fn ipv4_check_rejects_reserved_and_used() {
        let s: AwsIpv4Cidr = "10.0.1.0/24".parse().unwrap();
        let used: BTreeSet<Ipv4Addr> = [Ipv4Addr::new(10, 0, 1, 50)].into();
        assert!(matches!(
            check_ipv4(&s, Ipv4Addr::new(10, 0, 1, 255), &used),
            Err(EniAddressError::Reserved { .. })
        ));
        assert!(matches!(
            check_ipv4(&s, Ipv4Addr::new(10, 0, 1, 2), &used),
            Err(EniAddressError::Reserved { .. })
        ));
        assert!(matches!(
            check_ipv4(&s, Ipv4Addr::new(10, 0, 1, 50), &used),
            Err(EniAddressError::InUse { .. })
        ));
        assert!(matches!(
            check_ipv4(&s, Ipv4Addr::new(10, 0, 2, 5), &used),
            Err(EniAddressError::OutsideSubnet { .. })
        ));
        assert!(check_ipv4(&s, Ipv4Addr::new(10, 0, 1, 4), &used).is_ok());
    }
}
