//! VPC and subnet blocks: Amazon-provided VPC IPv6 /56s drawn from a pool ([`VpcBlockPool`]),
//! subnet /64s inside a VPC /56, and subnet IPv4 blocks inside the VPC's IPv4 block.
//!
//! The rules, as AWS applies them: a VPC gets one /56 that no other VPC holds; each subnet's
//! IPv6 block is a /64 inside its VPC's /56 and is not used by a sibling subnet; VPC and subnet
//! IPv4 blocks are /16 to /28 ([`AwsIpv4Cidr`]); a subnet's IPv4 block lies inside the VPC's
//! IPv4 block and does not overlap a sibling's.

use std::collections::BTreeSet;

use crate::choice::{Choice, find_free};
use crate::cidr::{AwsIpv4Cidr, CidrError, Ipv4Cidr, Ipv6Cidr, Subnet64, Vpc56, mask32};

/// Why a VPC or subnet block cannot be had.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VpcError {
    /// The text or prefix is not a block of the right shape.
    #[error(transparent)]
    Cidr(#[from] CidrError),
    /// A pool must be at least as large as one /56.
    #[error(
        "the VPC IPv6 pool `{pool}` is longer than /56 and cannot hold a VPC block; use a /56 or shorter pool such as `2001:db8::/32`"
    )]
    PoolTooSmall {
        /// The pool as given.
        pool: Ipv6Cidr,
    },
    /// Every /56 of the pool is in use.
    #[error(
        "no free /56 left in the VPC IPv6 pool `{pool}` ({in_use} blocks in use); delete a VPC or disassociate its IPv6 block, or configure a larger pool"
    )]
    PoolExhausted {
        /// The pool.
        pool: Ipv6Cidr,
        /// How many of the pool's /56s the caller reported in use.
        in_use: usize,
    },
    /// A subnet /64 outside its VPC's /56.
    #[error(
        "subnet IPv6 block `{subnet}` is not inside the VPC's block `{vpc}`; choose a /64 inside `{vpc}`, such as `{example}`"
    )]
    Ipv6SubnetOutsideVpc {
        /// The subnet block as given.
        subnet: Subnet64,
        /// The VPC's block.
        vpc: Vpc56,
        /// A /64 inside the VPC.
        example: Subnet64,
    },
    /// A subnet /64 already used by another subnet.
    #[error(
        "subnet IPv6 block `{subnet}` is already used by another subnet of the VPC; choose a free /64 of the VPC's /56"
    )]
    Ipv6SubnetTaken {
        /// The subnet block as given.
        subnet: Subnet64,
    },
    /// Every /64 of the VPC is used by a subnet.
    #[error(
        "all 256 /64s of the VPC's block `{vpc}` are used by subnets; delete a subnet to free one"
    )]
    VpcFull {
        /// The VPC's block.
        vpc: Vpc56,
    },
    /// A subnet IPv4 block outside the VPC's IPv4 block.
    #[error(
        "subnet IPv4 block `{subnet}` is not inside the VPC's IPv4 block `{vpc}`; choose a /16 to /28 block inside `{vpc}`"
    )]
    Ipv4SubnetOutsideVpc {
        /// The subnet block as given.
        subnet: AwsIpv4Cidr,
        /// The VPC's IPv4 block.
        vpc: AwsIpv4Cidr,
    },
    /// A subnet IPv4 block that overlaps a sibling's.
    #[error(
        "subnet IPv4 block `{subnet}` overlaps the block `{existing}` of another subnet; choose a block that overlaps no other subnet"
    )]
    Ipv4SubnetOverlaps {
        /// The subnet block as given.
        subnet: AwsIpv4Cidr,
        /// The sibling block it overlaps.
        existing: AwsIpv4Cidr,
    },
}

/// `2001:db8::/32`, the IPv6 documentation range (RFC 3849).
pub const DOCUMENTATION_POOL: Ipv6Cidr = Ipv6Cidr::constant(0x2001_0db8 << 96, 32);

/// The pool that Amazon-provided VPC IPv6 /56 blocks come from.
///
/// Invariant: the pool's prefix is /56 or shorter, so it holds at least one /56.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VpcBlockPool {
    pool: Ipv6Cidr,
}

impl VpcBlockPool {
    /// The default pool, `2001:db8::/32` (the documentation range stands in for Amazon's
    /// pool so nothing the lab builds is ever routable).
    pub const fn documentation() -> Self {
        Self {
            pool: DOCUMENTATION_POOL,
        }
    }

    /// A pool over `pool`; fails if `pool` is longer than /56.
    pub fn new(pool: Ipv6Cidr) -> Result<Self, VpcError> {
        if pool.prefix_len() > Vpc56::LEN {
            return Err(VpcError::PoolTooSmall { pool });
        }
        Ok(Self { pool })
    }

    /// The pool's prefix.
    pub fn cidr(&self) -> Ipv6Cidr {
        self.pool
    }

    /// How many /56s the pool holds.
    pub fn capacity(&self) -> u128 {
        1u128 << (Vpc56::LEN - self.pool.prefix_len())
    }

    /// The `index`-th /56 of the pool (address order); `None` past the end.
    pub fn nth(&self, index: u128) -> Option<Vpc56> {
        (index < self.capacity()).then(|| {
            Vpc56::from_bits_masked(
                u128::from(self.pool.network()) | (index << (128 - u32::from(Vpc56::LEN))),
            )
        })
    }

    /// Whether `block` comes from this pool.
    pub fn contains(&self, block: &Vpc56) -> bool {
        self.pool.contains(&block.cidr())
    }

    /// A /56 of the pool that is not in `used`.
    ///
    /// Guarantees: the result is inside the pool and not in `used`. Blocks in `used` outside
    /// the pool are ignored. Deterministic for a given `choice`. Fails with
    /// [`VpcError::PoolExhausted`] when every /56 of the pool is in `used`.
    pub fn allocate(
        &self,
        used: &BTreeSet<Vpc56>,
        mut choice: Choice<'_>,
    ) -> Result<Vpc56, VpcError> {
        let found = find_free(self.capacity(), &mut choice, |i| {
            let block = self.nth(i)?;
            used.contains(&block).then_some(i + 1)
        });
        found
            .and_then(|i| self.nth(i))
            .ok_or_else(|| VpcError::PoolExhausted {
                pool: self.pool,
                in_use: used
                    .range(
                        Vpc56::containing(self.pool.network())
                            ..=Vpc56::containing(self.pool.last()),
                    )
                    .count(),
            })
    }
}

impl Default for VpcBlockPool {
    fn default() -> Self {
        Self::documentation()
    }
}

/// The `n`-th /64 of a VPC /56 (a /56 holds exactly 256 /64s, so every `n` is valid).
pub fn nth_subnet64(vpc: &Vpc56, n: u8) -> Subnet64 {
    Subnet64::from_bits_masked(u128::from(vpc.network()) | (u128::from(n) << 64))
}

/// Checks a user-given IPv6 subnet block against its VPC.
///
/// Accepts `candidate` only if it is a /64 (with no host bits), lies inside `vpc` and is not
/// in `siblings` (the /64s of the VPC's other subnets; /64s cannot partially overlap, so this
/// is the whole overlap check, one lookup).
pub fn check_subnet64(
    vpc: &Vpc56,
    candidate: &Ipv6Cidr,
    siblings: &BTreeSet<Subnet64>,
) -> Result<Subnet64, VpcError> {
    let subnet = Subnet64::try_from(*candidate)?;
    if !vpc.contains(&subnet.cidr()) {
        return Err(VpcError::Ipv6SubnetOutsideVpc {
            subnet,
            vpc: *vpc,
            example: nth_subnet64(vpc, 0),
        });
    }
    if siblings.contains(&subnet) {
        return Err(VpcError::Ipv6SubnetTaken { subnet });
    }
    Ok(subnet)
}

/// A /64 of `vpc` that is not in `used`, chosen by `choice`; [`VpcError::VpcFull`] if none.
pub fn allocate_subnet64(
    vpc: &Vpc56,
    used: &BTreeSet<Subnet64>,
    mut choice: Choice<'_>,
) -> Result<Subnet64, VpcError> {
    let subnet_at = |i: u128| nth_subnet64(vpc, u8::try_from(i).unwrap_or(u8::MAX));
    find_free(256, &mut choice, |i| {
        used.contains(&subnet_at(i)).then_some(i + 1)
    })
    .map(subnet_at)
    .ok_or(VpcError::VpcFull { vpc: *vpc })
}

/// Checks a user-given IPv4 subnet block against its VPC's IPv4 block.
///
/// Accepts `candidate` only if it is /16 to /28, lies inside `vpc` and overlaps none of
/// `siblings`. Correct even if `siblings` overlap each other; costs at most 14 lookups (one per
/// allowed length of a block containing the candidate) plus one range query.
pub fn check_subnet_ipv4(
    vpc: &AwsIpv4Cidr,
    candidate: &Ipv4Cidr,
    siblings: &BTreeSet<AwsIpv4Cidr>,
) -> Result<AwsIpv4Cidr, VpcError> {
    let subnet = AwsIpv4Cidr::try_from(*candidate)?;
    if !vpc.contains(candidate) {
        return Err(VpcError::Ipv4SubnetOutsideVpc { subnet, vpc: *vpc });
    }
    if let Some(existing) = ipv4_overlap(&subnet, siblings) {
        return Err(VpcError::Ipv4SubnetOverlaps { subnet, existing });
    }
    Ok(subnet)
}

/// A member of `set` that overlaps `block`, if any.
fn ipv4_overlap(block: &AwsIpv4Cidr, set: &BTreeSet<AwsIpv4Cidr>) -> Option<AwsIpv4Cidr> {
    // A member that contains `block`: it is `block`'s address masked to the member's length.
    let bits = u32::from(block.network());
    let container = (AwsIpv4Cidr::ALLOWED.min..=block.prefix_len()).find_map(|len| {
        let key = AwsIpv4Cidr::new((bits & mask32(len)).into(), len).ok()?;
        set.contains(&key).then_some(key)
    });
    // A member inside `block`: the smallest member at or after `block` starts within it (a
    // member with the same address and a shorter length sorts before and was found above).
    container.or_else(|| {
        set.range(block..)
            .next()
            .filter(|m| block.contains_addr(m.network()))
            .copied()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    fn v56(s: &str) -> Vpc56 {
        s.parse().unwrap()
    }

    #[test]
    fn first_choice_returns_the_lowest_free_block() {
        let pool = VpcBlockPool::documentation();
        let used: BTreeSet<_> = [v56("2001:db8::/56"), v56("2001:db8:0:100::/56")].into();
        assert_eq!(
            pool.allocate(&used, Choice::First).unwrap(),
            v56("2001:db8:0:200::/56")
        );
    }

    #[test]
    fn random_choice_is_deterministic_for_a_seed_and_inside_the_pool() {
        let pool = VpcBlockPool::documentation();
        let used = BTreeSet::new();
        let a = pool
            .allocate(&used, Choice::Random(&mut StdRng::seed_from_u64(1)))
            .unwrap();
        let b = pool
            .allocate(&used, Choice::Random(&mut StdRng::seed_from_u64(1)))
            .unwrap();
        assert_eq!(a, b);
        assert!(pool.contains(&a));
    }

    #[test]
    fn exhausted_pool_is_an_error_naming_the_pool() {
        let pool = VpcBlockPool::new("2001:db8::/55".parse().unwrap()).unwrap();
        let used: BTreeSet<_> = [v56("2001:db8::/56"), v56("2001:db8:0:100::/56")].into();
        let err = pool.allocate(&used, Choice::First).unwrap_err();
        assert_eq!(
            err,
            VpcError::PoolExhausted {
                pool: pool.cidr(),
                in_use: 2
            }
        );
        assert!(err.to_string().contains("`2001:db8::/55`"), "{err}");
    }

    #[test]
    fn pool_longer_than_56_is_rejected() {
        let err = VpcBlockPool::new("2001:db8::/64".parse().unwrap()).unwrap_err();
        assert!(matches!(err, VpcError::PoolTooSmall { .. }));
    }

    #[test]
    fn nth_subnet64_counts_the_seventh_byte() {
        let vpc = v56("2001:db8:1200::/56");
        assert_eq!(nth_subnet64(&vpc, 0).to_string(), "2001:db8:1200::/64");
        assert_eq!(
            nth_subnet64(&vpc, 0x2a).to_string(),
            "2001:db8:1200:2a::/64"
        );
    }

    #[test]
    fn subnet64_must_be_a_64_inside_the_vpc_and_unused() {
        let vpc = v56("2001:db8:1200::/56");
        let siblings: BTreeSet<_> = [nth_subnet64(&vpc, 1)].into();
        let ok: Ipv6Cidr = "2001:db8:1200:2::/64".parse().unwrap();
        assert_eq!(
            check_subnet64(&vpc, &ok, &siblings).unwrap(),
            nth_subnet64(&vpc, 2)
        );

        let wrong_len: Ipv6Cidr = "2001:db8:1200::/60".parse().unwrap();
        assert!(matches!(
            check_subnet64(&vpc, &wrong_len, &siblings),
            Err(VpcError::Cidr(CidrError::PrefixLength { actual: 60, .. }))
        ));
        let outside: Ipv6Cidr = "2001:db8:1300::/64".parse().unwrap();
        let err = check_subnet64(&vpc, &outside, &siblings).unwrap_err();
        assert!(
            err.to_string().contains("such as `2001:db8:1200::/64`"),
            "{err}"
        );
        let taken: Ipv6Cidr = "2001:db8:1200:1::/64".parse().unwrap();
        assert!(matches!(
            check_subnet64(&vpc, &taken, &siblings),
            Err(VpcError::Ipv6SubnetTaken { .. })
        ));
    }

    #[test]
    fn allocate_subnet64_skips_used_and_reports_a_full_vpc() {
        let vpc = v56("2001:db8:1200::/56");
        let mut used: BTreeSet<_> = [nth_subnet64(&vpc, 0)].into();
        assert_eq!(
            allocate_subnet64(&vpc, &used, Choice::First).unwrap(),
            nth_subnet64(&vpc, 1)
        );
        used.extend((0..=255).map(|n| nth_subnet64(&vpc, n)));
        assert_eq!(
            allocate_subnet64(&vpc, &used, Choice::First),
            Err(VpcError::VpcFull { vpc })
        );
    }

    #[test]
    fn ipv4_subnet_must_be_inside_and_not_overlap() {
        let vpc: AwsIpv4Cidr = "10.0.0.0/16".parse().unwrap();
        let siblings: BTreeSet<AwsIpv4Cidr> = ["10.0.0.0/24", "10.0.8.0/21"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        let ok: Ipv4Cidr = "10.0.1.0/24".parse().unwrap();
        assert!(check_subnet_ipv4(&vpc, &ok, &siblings).is_ok());

        // Inside a sibling.
        let inner: Ipv4Cidr = "10.0.9.0/24".parse().unwrap();
        let err = check_subnet_ipv4(&vpc, &inner, &siblings).unwrap_err();
        assert!(
            err.to_string().contains("overlaps the block `10.0.8.0/21`"),
            "{err}"
        );
        // Containing a sibling.
        let outer: Ipv4Cidr = "10.0.0.0/20".parse().unwrap();
        assert!(matches!(
            check_subnet_ipv4(&vpc, &outer, &siblings),
            Err(VpcError::Ipv4SubnetOverlaps { .. })
        ));
        // Outside the VPC.
        let outside: Ipv4Cidr = "10.1.0.0/24".parse().unwrap();
        assert!(matches!(
            check_subnet_ipv4(&vpc, &outside, &siblings),
            Err(VpcError::Ipv4SubnetOutsideVpc { .. })
        ));
        // Too small for AWS.
        let tiny: Ipv4Cidr = "10.0.2.0/29".parse().unwrap();
        assert!(matches!(
            check_subnet_ipv4(&vpc, &tiny, &siblings),
            Err(VpcError::Cidr(_))
        ));
    }
}
