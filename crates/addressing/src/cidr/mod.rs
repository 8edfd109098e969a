//! CIDR newtypes that can only hold a network: [`Ipv6Cidr`], [`Ipv4Cidr`], the fixed-length
//! [`Ipv6Subnet<N>`] (with the aliases [`Vpc56`], [`Subnet64`], [`NodePrefix80`]) and
//! [`AwsIpv4Cidr`], the /16../28 IPv4 block AWS accepts for VPCs and subnets.
//!
//! Every type here is "parse, don't validate": a value exists only if its address is the
//! network address of its prefix (no host bits set) and its prefix length is one the type
//! allows. All of them parse from and print as the usual `address/length` text, and serialize
//! as that string.
//!
//! This module owns the shared parsing, length checks and errors; `v6` and `v4` own the types.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use ipnet::{Ipv4Net, Ipv6Net};

mod v4;
mod v6;

pub use v4::{AwsIpv4Cidr, Ipv4Cidr};
pub use v6::{Ipv6Cidr, Ipv6Subnet, NodePrefix80, Subnet64, Vpc56};

/// The bits of a 128-bit address covered by a prefix of `len` bits (`len` <= 128).
pub(crate) const fn mask128(len: u8) -> u128 {
    if len == 0 {
        0
    } else {
        u128::MAX << (128 - len as u32)
    }
}

/// The bits of a 32-bit address covered by a prefix of `len` bits (`len` <= 32).
pub(crate) const fn mask32(len: u8) -> u32 {
    if len == 0 {
        0
    } else {
        u32::MAX << (32 - len as u32)
    }
}

/// An inclusive range of prefix lengths, printed for error messages (`/64`, `/16 to /28`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrefixRange {
    /// Shortest allowed prefix length.
    pub min: u8,
    /// Longest allowed prefix length.
    pub max: u8,
}

impl PrefixRange {
    /// Exactly one allowed length.
    pub const fn exactly(len: u8) -> Self {
        Self { min: len, max: len }
    }

    /// Whether `len` is allowed.
    pub const fn allows(&self, len: u8) -> bool {
        self.min <= len && len <= self.max
    }

    /// The allowed length closest to `len`.
    pub const fn nearest(&self, len: u8) -> u8 {
        if len < self.min {
            self.min
        } else if len > self.max {
            self.max
        } else {
            len
        }
    }
}

impl fmt::Display for PrefixRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.min == self.max {
            write!(f, "a /{}", self.min)
        } else {
            write!(f, "a prefix length from /{} to /{}", self.min, self.max)
        }
    }
}

/// IP family, for error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// IPv4.
    V4,
    /// IPv6.
    V6,
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Family::V4 => "IPv4",
            Family::V6 => "IPv6",
        })
    }
}

/// Why a text or an address/length pair is not an acceptable CIDR.
///
/// Every variant carries the offending input as given and says how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CidrError {
    /// Not `address/length` text of the right family.
    #[error(
        "`{input}` is not an {family} CIDR; write an address, a slash and a prefix length, like `{example}`"
    )]
    Syntax {
        /// The text as given.
        input: String,
        /// The family that was expected.
        family: Family,
        /// A well-formed example.
        example: &'static str,
    },
    /// The address has bits set beyond the prefix length.
    #[error(
        "`{input}` has host bits set: the network of that prefix is `{network}`; write `{network}` instead"
    )]
    HostBitsSet {
        /// The CIDR as given.
        input: String,
        /// The network the input most likely meant.
        network: String,
    },
    /// The prefix length is not one this kind of block allows.
    #[error(
        "`{input}` is a /{actual}, but {allowed} is required here; use for example `{suggestion}`"
    )]
    PrefixLength {
        /// The CIDR as given.
        input: String,
        /// Its prefix length.
        actual: u8,
        /// The lengths that are allowed.
        allowed: PrefixRange,
        /// A valid block at the same address (the first block inside, or the block around it).
        suggestion: String,
    },
    /// A service CIDR outside the unique-local range.
    #[error(
        "`{input}` is not in the unique-local range fc00::/7; IPv6 service CIDRs are unique-local /108s (RFC 4193), normally left for sixfold to choose"
    )]
    NotUniqueLocal {
        /// The CIDR as given.
        input: String,
    },
    /// An IPv4 block outside 10.0.0.0/8, 172.16.0.0/12 and 192.168.0.0/16.
    #[error(
        "`{input}` is not inside a private range (10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16); choose a block inside one of them"
    )]
    NotPrivateIpv4 {
        /// The CIDR as given.
        input: String,
    },
}

fn parse_v6(input: &str) -> Result<Ipv6Net, CidrError> {
    Ipv6Net::from_str(input).map_err(|_| CidrError::Syntax {
        input: input.to_owned(),
        family: Family::V6,
        example: "2001:db8::/56",
    })
}

fn parse_v4(input: &str) -> Result<Ipv4Net, CidrError> {
    Ipv4Net::from_str(input).map_err(|_| CidrError::Syntax {
        input: input.to_owned(),
        family: Family::V4,
        example: "10.0.0.0/16",
    })
}

/// `Ok` if `allowed` takes `len`; else the error that suggests `addr` cut to the nearest
/// length `allowed` takes.
fn check_len(input: &str, addr: IpAddr, len: u8, allowed: PrefixRange) -> Result<(), CidrError> {
    if allowed.allows(len) {
        return Ok(());
    }
    let nearest = allowed.nearest(len);
    let suggestion = match addr {
        IpAddr::V6(a) => IpAddr::V6(Ipv6Addr::from(u128::from(a) & mask128(nearest))),
        IpAddr::V4(a) => IpAddr::V4(Ipv4Addr::from(u32::from(a) & mask32(nearest))),
    };
    Err(CidrError::PrefixLength {
        input: input.to_owned(),
        actual: len,
        allowed,
        suggestion: format!("{suggestion}/{nearest}"),
    })
}

/// [`check_len`] of an IPv6 network.
fn check_len_v6(
    input: &str,
    addr: Ipv6Addr,
    len: u8,
    allowed: PrefixRange,
) -> Result<(), CidrError> {
    check_len(input, IpAddr::V6(addr), len, allowed)
}

/// [`check_len`] of an IPv4 network.
fn check_len_v4(
    input: &str,
    addr: Ipv4Addr,
    len: u8,
    allowed: PrefixRange,
) -> Result<(), CidrError> {
    check_len(input, IpAddr::V4(addr), len, allowed)
}

/// Implements `Serialize`/`Deserialize` as the type's `Display`/`FromStr` text.
macro_rules! serde_as_string {
    ($ty:ty) => {
        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = <String as serde::Deserialize>::deserialize(d)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}
pub(crate) use serde_as_string;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_bits_are_rejected_with_the_network_to_write_instead() {
        let err = "2001:db8::1/56".parse::<Ipv6Cidr>().unwrap_err();
        assert_eq!(
            err,
            CidrError::HostBitsSet {
                input: "2001:db8::1/56".into(),
                network: "2001:db8::/56".into()
            }
        );
        assert!(
            err.to_string()
                .contains("the network of that prefix is `2001:db8::/56`")
        );
        let err = "10.0.0.1/16".parse::<Ipv4Cidr>().unwrap_err();
        assert!(err.to_string().contains("`10.0.0.0/16`"), "{err}");
    }

    #[test]
    fn fixed_length_types_reject_other_lengths_with_a_suggestion() {
        let err = "2001:db8::/60".parse::<Subnet64>().unwrap_err();
        assert_eq!(
            err,
            CidrError::PrefixLength {
                input: "2001:db8::/60".into(),
                actual: 60,
                allowed: PrefixRange::exactly(64),
                suggestion: "2001:db8::/64".into()
            }
        );
        assert!(err.to_string().contains("a /64 is required"), "{err}");
        // The length is checked before host bits, so the suggestion is usable as is.
        let err = "2001:db8:0:1::5/72".parse::<Subnet64>().unwrap_err();
        assert!(err.to_string().contains("`2001:db8:0:1::/64`"), "{err}");
    }

    #[test]
    fn garbage_is_a_syntax_error_with_an_example() {
        for bad in [
            "",
            "2001:db8::",
            "2001:db8::/129",
            "10.0.0.0/8",
            "fe80::/64 ",
        ] {
            let err = bad.parse::<Ipv6Cidr>().unwrap_err();
            assert!(matches!(err, CidrError::Syntax { .. }), "{bad}: {err}");
            assert!(err.to_string().contains("like `2001:db8::/56`"));
        }
        assert!(matches!(
            "::/0".parse::<Ipv4Cidr>(),
            Err(CidrError::Syntax { .. })
        ));
    }

    #[test]
    fn aws_ipv4_blocks_are_16_to_28() {
        assert!("10.0.0.0/16".parse::<AwsIpv4Cidr>().is_ok());
        assert!("10.0.0.16/28".parse::<AwsIpv4Cidr>().is_ok());
        let err = "10.0.0.0/8".parse::<AwsIpv4Cidr>().unwrap_err();
        assert!(err.to_string().contains("from /16 to /28"), "{err}");
        assert!(err.to_string().contains("`10.0.0.0/16`"), "{err}");
        let err = "10.0.0.0/29".parse::<AwsIpv4Cidr>().unwrap_err();
        assert!(err.to_string().contains("`10.0.0.0/28`"), "{err}");
    }

    #[test]
    fn serde_round_trips_as_strings() {
        let v: Vpc56 = "2001:db8:1200::/56".parse().unwrap();
        let json = serde_json::to_string(&v).unwrap();
        assert_eq!(json, "\"2001:db8:1200::/56\"");
        assert_eq!(serde_json::from_str::<Vpc56>(&json).unwrap(), v);
        let err = serde_json::from_str::<Vpc56>("\"2001:db8:1200::1/56\"").unwrap_err();
        assert!(err.to_string().contains("host bits"), "{err}");
        let c: AwsIpv4Cidr = serde_json::from_str("\"10.1.0.0/16\"").unwrap();
        assert_eq!(serde_json::to_string(&c).unwrap(), "\"10.1.0.0/16\"");
        let c: Ipv6Cidr = serde_json::from_str("\"::/0\"").unwrap();
        assert_eq!(c.prefix_len(), 0);
    }

    #[test]
    fn children_are_numbered_in_address_order() {
        let vpc: Vpc56 = "2001:db8:1200::/56".parse().unwrap();
        assert_eq!(Vpc56::child_count::<64>(), 256);
        assert_eq!(
            vpc.child::<64>(0).unwrap().to_string(),
            "2001:db8:1200::/64"
        );
        assert_eq!(
            vpc.child::<64>(255).unwrap().to_string(),
            "2001:db8:1200:ff::/64"
        );
        assert_eq!(vpc.child::<64>(256), None);
        let s = vpc.child::<64>(7).unwrap();
        assert_eq!(vpc.child_index(&s), Some(7));
        let outside: Subnet64 = "2001:db8:1300::/64".parse().unwrap();
        assert_eq!(vpc.child_index(&outside), None);
        assert_eq!(Ipv6Subnet::<0>::child_count::<128>(), u128::MAX);
    }

    #[test]
    fn ipv4_nth_stays_inside() {
        let c: Ipv4Cidr = "10.0.0.0/30".parse().unwrap();
        assert_eq!(c.size(), 4);
        assert_eq!(c.nth(3), Some(Ipv4Addr::new(10, 0, 0, 3)));
        assert_eq!(c.nth(4), None);
        assert_eq!(c.last(), Ipv4Addr::new(10, 0, 0, 3));
        let all: Ipv4Cidr = "0.0.0.0/0".parse().unwrap();
        assert_eq!(all.size(), 1 << 32);
        assert_eq!(all.nth(u64::from(u32::MAX)), Some(Ipv4Addr::BROADCAST));
    }
}
