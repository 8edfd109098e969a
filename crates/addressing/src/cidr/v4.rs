//! IPv4 CIDRs: [`Ipv4Cidr`] of any length and [`AwsIpv4Cidr`], the /16../28 VPC and subnet
//! block.

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

use ipnet::Ipv4Net;

use super::{CidrError, PrefixRange, check_len_v4, mask32, parse_v4, serde_as_string};

/// An IPv4 prefix of any length (0..=32) whose address is its network address.
///
/// Ordered by network address, then prefix length.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ipv4Cidr {
    network: Ipv4Addr,
    len: u8,
}

impl Ipv4Cidr {
    /// The prefix `network/len`; fails if `len` > 32 or `network` has host bits set.
    pub fn new(network: Ipv4Addr, len: u8) -> Result<Self, CidrError> {
        let input = format!("{network}/{len}");
        check_len_v4(&input, network, len, PrefixRange { min: 0, max: 32 })?;
        let masked = Ipv4Addr::from(u32::from(network) & mask32(len));
        if masked != network {
            return Err(CidrError::HostBitsSet {
                input,
                network: format!("{masked}/{len}"),
            });
        }
        Ok(Self { network, len })
    }

    /// A constant prefix, for `const` items only: an invalid one fails the build.
    pub(crate) const fn constant(octets: [u8; 4], len: u8) -> Self {
        let bits = u32::from_be_bytes(octets);
        assert!(
            len <= 32 && bits & !mask32(len) == 0,
            "invalid constant IPv4 CIDR"
        );
        Self {
            network: Ipv4Addr::new(octets[0], octets[1], octets[2], octets[3]),
            len,
        }
    }

    /// The prefix of length `len` that contains `addr`; `None` if `len` > 32.
    pub fn containing(addr: Ipv4Addr, len: u8) -> Option<Self> {
        (len <= 32).then(|| Self {
            network: Ipv4Addr::from(u32::from(addr) & mask32(len)),
            len,
        })
    }

    /// The network address.
    pub fn network(&self) -> Ipv4Addr {
        self.network
    }

    /// The prefix length, 0..=32.
    pub fn prefix_len(&self) -> u8 {
        self.len
    }

    /// The last (broadcast) address.
    pub fn last(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.network) | !mask32(self.len))
    }

    /// How many addresses the prefix holds: 2^(32-len).
    pub fn size(&self) -> u64 {
        1u64 << (32 - u32::from(self.len))
    }

    /// The `index`-th address of the prefix (0 is the network address); `None` past the end.
    pub fn nth(&self, index: u64) -> Option<Ipv4Addr> {
        let offset = u32::try_from(index).ok().filter(|_| index < self.size())?;
        Some(Ipv4Addr::from(u32::from(self.network) | offset))
    }

    /// Whether `addr` lies inside this prefix.
    pub fn contains_addr(&self, addr: Ipv4Addr) -> bool {
        u32::from(addr) & mask32(self.len) == u32::from(self.network)
    }

    /// Whether `other` lies entirely inside this prefix (a prefix contains itself).
    pub fn contains(&self, other: &Ipv4Cidr) -> bool {
        other.len >= self.len && self.contains_addr(other.network)
    }

    /// Whether the two prefixes share at least one address.
    pub fn overlaps(&self, other: &Ipv4Cidr) -> bool {
        self.contains(other) || other.contains(self)
    }

    /// The same prefix as an [`ipnet::Ipv4Net`].
    pub fn to_ipnet(&self) -> Ipv4Net {
        // `len` <= 32 is an invariant of this type, so `Ipv4Net::new` cannot fail; the fallback
        // is unreachable and only avoids a panic path.
        Ipv4Net::new(self.network, self.len).unwrap_or_default()
    }
}

impl FromStr for Ipv4Cidr {
    type Err = CidrError;

    fn from_str(input: &str) -> Result<Self, CidrError> {
        let net = parse_v4(input)?;
        Self::try_from(net).map_err(|e| match e {
            CidrError::HostBitsSet { network, .. } => CidrError::HostBitsSet {
                input: input.to_owned(),
                network,
            },
            other => other,
        })
    }
}

impl TryFrom<Ipv4Net> for Ipv4Cidr {
    type Error = CidrError;

    fn try_from(net: Ipv4Net) -> Result<Self, CidrError> {
        Self::new(net.addr(), net.prefix_len())
    }
}

impl From<Ipv4Cidr> for Ipv4Net {
    fn from(c: Ipv4Cidr) -> Self {
        c.to_ipnet()
    }
}

impl fmt::Display for Ipv4Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.len)
    }
}

impl fmt::Debug for Ipv4Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Ipv4Cidr({self})")
    }
}

serde_as_string!(Ipv4Cidr);

/// An IPv4 block AWS accepts for a VPC or a subnet: prefix length /16 to /28.
///
/// Invariant: a valid [`Ipv4Cidr`] with `16 <= prefix_len <= 28`. Ordered like [`Ipv4Cidr`].
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AwsIpv4Cidr(Ipv4Cidr);

impl AwsIpv4Cidr {
    /// The prefix lengths AWS allows for VPC and subnet IPv4 blocks.
    pub const ALLOWED: PrefixRange = PrefixRange { min: 16, max: 28 };

    /// The block `network/len`; fails on host bits or a length outside /16../28.
    pub fn new(network: Ipv4Addr, len: u8) -> Result<Self, CidrError> {
        Self::try_from(Ipv4Cidr::new(network, len)?)
    }

    /// The underlying CIDR.
    pub fn cidr(&self) -> Ipv4Cidr {
        self.0
    }
}

impl std::ops::Deref for AwsIpv4Cidr {
    type Target = Ipv4Cidr;

    fn deref(&self) -> &Ipv4Cidr {
        &self.0
    }
}

impl TryFrom<Ipv4Cidr> for AwsIpv4Cidr {
    type Error = CidrError;

    fn try_from(c: Ipv4Cidr) -> Result<Self, CidrError> {
        check_len_v4(&c.to_string(), c.network, c.len, Self::ALLOWED)?;
        Ok(Self(c))
    }
}

impl From<AwsIpv4Cidr> for Ipv4Cidr {
    fn from(c: AwsIpv4Cidr) -> Self {
        c.0
    }
}

impl FromStr for AwsIpv4Cidr {
    type Err = CidrError;

    fn from_str(input: &str) -> Result<Self, CidrError> {
        let net = parse_v4(input)?;
        check_len_v4(input, net.addr(), net.prefix_len(), Self::ALLOWED)?;
        Ok(Self(input.parse()?))
    }
}

impl fmt::Display for AwsIpv4Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Debug for AwsIpv4Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AwsIpv4Cidr({self})")
    }
}

serde_as_string!(AwsIpv4Cidr);
