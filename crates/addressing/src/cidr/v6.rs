//! IPv6 CIDRs: [`Ipv6Cidr`] of any length and [`Ipv6Subnet<N>`] with the length in the type.

use std::fmt;
use std::net::Ipv6Addr;
use std::str::FromStr;

use ipnet::Ipv6Net;

use super::{CidrError, PrefixRange, check_len_v6, mask128, parse_v6, serde_as_string};

/// An IPv6 prefix of any length (0..=128) whose address is its network address.
///
/// Ordered by network address, then prefix length.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ipv6Cidr {
    network: Ipv6Addr,
    len: u8,
}

impl Ipv6Cidr {
    /// The prefix `network/len`; fails if `len` > 128 or `network` has host bits set.
    pub fn new(network: Ipv6Addr, len: u8) -> Result<Self, CidrError> {
        let input = format!("{network}/{len}");
        check_len_v6(&input, network, len, PrefixRange { min: 0, max: 128 })?;
        let masked = Ipv6Addr::from(u128::from(network) & mask128(len));
        if masked != network {
            return Err(CidrError::HostBitsSet {
                input,
                network: format!("{masked}/{len}"),
            });
        }
        Ok(Self { network, len })
    }

    /// A constant prefix, for `const` items only: an invalid one fails the build.
    pub(crate) const fn constant(bits: u128, len: u8) -> Self {
        assert!(
            len <= 128 && bits & !mask128(len) == 0,
            "invalid constant IPv6 CIDR"
        );
        Self {
            network: Ipv6Addr::from_bits(bits),
            len,
        }
    }

    /// The prefix of length `len` that contains `addr` (host bits cleared); `None` if `len` > 128.
    pub fn containing(addr: Ipv6Addr, len: u8) -> Option<Self> {
        (len <= 128).then(|| Self {
            network: Ipv6Addr::from(u128::from(addr) & mask128(len)),
            len,
        })
    }

    /// The network address (all host bits zero).
    pub fn network(&self) -> Ipv6Addr {
        self.network
    }

    /// The prefix length, 0..=128.
    pub fn prefix_len(&self) -> u8 {
        self.len
    }

    /// The last address of the prefix (all host bits one).
    pub fn last(&self) -> Ipv6Addr {
        Ipv6Addr::from(u128::from(self.network) | !mask128(self.len))
    }

    /// Whether `addr` lies inside this prefix.
    pub fn contains_addr(&self, addr: Ipv6Addr) -> bool {
        u128::from(addr) & mask128(self.len) == u128::from(self.network)
    }

    /// Whether `other` lies entirely inside this prefix (a prefix contains itself).
    pub fn contains(&self, other: &Ipv6Cidr) -> bool {
        other.len >= self.len && self.contains_addr(other.network)
    }

    /// Whether the two prefixes share at least one address (for CIDRs: one contains the other).
    pub fn overlaps(&self, other: &Ipv6Cidr) -> bool {
        self.contains(other) || other.contains(self)
    }

    /// The same prefix as an [`ipnet::Ipv6Net`].
    pub fn to_ipnet(&self) -> Ipv6Net {
        // `len` <= 128 is an invariant of this type, so `Ipv6Net::new` cannot fail; the fallback
        // is unreachable and only avoids a panic path.
        Ipv6Net::new(self.network, self.len).unwrap_or_default()
    }
}

impl FromStr for Ipv6Cidr {
    type Err = CidrError;

    fn from_str(input: &str) -> Result<Self, CidrError> {
        let net = parse_v6(input)?;
        Self::try_from(net).map_err(|e| match e {
            CidrError::HostBitsSet { network, .. } => CidrError::HostBitsSet {
                input: input.to_owned(),
                network,
            },
            other => other,
        })
    }
}

impl TryFrom<Ipv6Net> for Ipv6Cidr {
    type Error = CidrError;

    fn try_from(net: Ipv6Net) -> Result<Self, CidrError> {
        Self::new(net.addr(), net.prefix_len())
    }
}

impl From<Ipv6Cidr> for Ipv6Net {
    fn from(c: Ipv6Cidr) -> Self {
        c.to_ipnet()
    }
}

impl fmt::Display for Ipv6Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.len)
    }
}

impl fmt::Debug for Ipv6Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Ipv6Cidr({self})")
    }
}

serde_as_string!(Ipv6Cidr);

// ---------------------------------------------------------------------------------------------
// IPv6, fixed length
// ---------------------------------------------------------------------------------------------

/// An IPv6 prefix whose length `N` lives in the type (after omicron's `Ipv6Subnet<N>`).
///
/// Invariants: `N` <= 128 (checked at compile time) and the stored address is the network
/// address. Ordered by network address, so a `BTreeSet<Ipv6Subnet<N>>` is in address order.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ipv6Subnet<const N: u8> {
    network: Ipv6Addr,
}

/// An Amazon-provided VPC IPv6 block.
pub type Vpc56 = Ipv6Subnet<56>;
/// A subnet's IPv6 block.
pub type Subnet64 = Ipv6Subnet<64>;
/// A node's delegated IPv6 prefix.
pub type NodePrefix80 = Ipv6Subnet<80>;

impl<const N: u8> Ipv6Subnet<N> {
    /// The prefix length, `N`.
    pub const LEN: u8 = {
        assert!(N <= 128, "an IPv6 prefix length is at most 128");
        N
    };

    /// The /N at `network`; fails if `network` has host bits set.
    pub fn new(network: Ipv6Addr) -> Result<Self, CidrError> {
        Ipv6Cidr::new(network, Self::LEN).map(|c| Self { network: c.network })
    }

    /// The /N that contains `addr`.
    pub fn containing(addr: Ipv6Addr) -> Self {
        Self {
            network: Ipv6Addr::from(u128::from(addr) & mask128(Self::LEN)),
        }
    }

    /// Builds from a raw network number whose host bits are known to be zero.
    pub(crate) fn from_bits_masked(bits: u128) -> Self {
        Self::containing(Ipv6Addr::from(bits))
    }

    /// The network address.
    pub fn network(&self) -> Ipv6Addr {
        self.network
    }

    /// The prefix length, `N`.
    pub fn prefix_len(&self) -> u8 {
        Self::LEN
    }

    /// The last address (all host bits one).
    pub fn last(&self) -> Ipv6Addr {
        self.cidr().last()
    }

    /// The same prefix with its length as a value.
    pub fn cidr(&self) -> Ipv6Cidr {
        Ipv6Cidr {
            network: self.network,
            len: Self::LEN,
        }
    }

    /// Whether `addr` lies inside this prefix.
    pub fn contains_addr(&self, addr: Ipv6Addr) -> bool {
        self.cidr().contains_addr(addr)
    }

    /// Whether `other` lies entirely inside this prefix.
    pub fn contains(&self, other: &Ipv6Cidr) -> bool {
        self.cidr().contains(other)
    }

    /// How many /M fit in this /N: 2^(M-N), saturating at `u128::MAX` for a /128 inside a /0.
    pub fn child_count<const M: u8>() -> u128 {
        const { assert!(M >= N, "a child prefix is at least as long as its parent") };
        1u128.checked_shl(u32::from(M - N)).unwrap_or(u128::MAX)
    }

    /// The `index`-th /M inside this /N (0-based, in address order); `None` past the end.
    pub fn child<const M: u8>(&self, index: u128) -> Option<Ipv6Subnet<M>> {
        if index >= Self::child_count::<M>() {
            return None;
        }
        let shift = 128 - u32::from(Ipv6Subnet::<M>::LEN);
        let offset = index.checked_shl(shift).unwrap_or(0);
        Some(Ipv6Subnet::from_bits_masked(
            u128::from(self.network) | offset,
        ))
    }

    /// The position of `child` among this prefix's /Ms; `None` if it is not inside.
    pub fn child_index<const M: u8>(&self, child: &Ipv6Subnet<M>) -> Option<u128> {
        const { assert!(M >= N, "a child prefix is at least as long as its parent") };
        if !self.contains_addr(child.network) {
            return None;
        }
        let host = u128::from(child.network) & !mask128(Self::LEN);
        Some(
            host.checked_shr(128 - u32::from(Ipv6Subnet::<M>::LEN))
                .unwrap_or(0),
        )
    }
}

impl<const N: u8> FromStr for Ipv6Subnet<N> {
    type Err = CidrError;

    fn from_str(input: &str) -> Result<Self, CidrError> {
        let net = parse_v6(input)?;
        check_len_v6(
            input,
            net.addr(),
            net.prefix_len(),
            PrefixRange::exactly(Self::LEN),
        )?;
        let cidr = input.parse::<Ipv6Cidr>()?;
        Ok(Self {
            network: cidr.network,
        })
    }
}

impl<const N: u8> TryFrom<Ipv6Cidr> for Ipv6Subnet<N> {
    type Error = CidrError;

    fn try_from(c: Ipv6Cidr) -> Result<Self, CidrError> {
        check_len_v6(
            &c.to_string(),
            c.network,
            c.len,
            PrefixRange::exactly(Self::LEN),
        )?;
        Ok(Self { network: c.network })
    }
}

impl<const N: u8> From<Ipv6Subnet<N>> for Ipv6Cidr {
    fn from(s: Ipv6Subnet<N>) -> Self {
        s.cidr()
    }
}

impl<const N: u8> fmt::Display for Ipv6Subnet<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, Self::LEN)
    }
}

impl<const N: u8> fmt::Debug for Ipv6Subnet<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Ipv6Subnet({self})")
    }
}

impl<const N: u8> serde::Serialize for Ipv6Subnet<N> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de, const N: u8> serde::Deserialize<'de> for Ipv6Subnet<N> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <String as serde::Deserialize>::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}
