//! A small synchronous rtnetlink client: links (veth pairs, up/down, MAC, MTU, rename, alias,
//! delete, lookup, list), addresses, routes (main table) and neighbours.
//!
//! A [`Netlink`] handle works in the network namespace where it was opened: open it with
//! [`Netlink::open`] in the current namespace, or with [`crate::netns::NetNs::netlink`] for
//! another one (the socket is opened on a throwaway thread inside that namespace and can then
//! be used from any thread).
mod addr;
mod link;
mod neigh;
mod route;
mod socket;
pub(crate) mod wire;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::error::Result;
pub use addr::{AddrOpts, Address};
pub use link::{Link, MacAddr, VethSpec, validate_ifname};
pub use neigh::Neighbour;
pub use route::Route;
pub(crate) use socket::Socket;

/// Route scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Universe,
    Link,
    Host,
}

impl Scope {
    fn raw(self) -> u8 {
        match self {
            Scope::Universe => 0,
            Scope::Link => 253,
            Scope::Host => 254,
        }
    }
    fn from_raw(v: u8) -> Scope {
        match v {
            253 => Scope::Link,
            254 => Scope::Host,
            _ => Scope::Universe,
        }
    }
}
fn family(ip: &IpAddr) -> u8 {
    match ip {
        IpAddr::V4(_) => libc::AF_INET as u8,
        IpAddr::V6(_) => libc::AF_INET6 as u8,
    }
}

fn ip_bytes(ip: &IpAddr) -> Vec<u8> {
    match ip {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    }
}

fn parse_ip(fam: u8, p: &[u8]) -> Option<IpAddr> {
    if fam == libc::AF_INET as u8 && p.len() == 4 {
        Some(IpAddr::V4(Ipv4Addr::new(p[0], p[1], p[2], p[3])))
    } else if fam == libc::AF_INET6 as u8 && p.len() == 16 {
        let mut o = [0u8; 16];
        o.copy_from_slice(p);
        Some(IpAddr::V6(Ipv6Addr::from(o)))
    } else {
        None
    }
}

/// An rtnetlink handle bound to one network namespace.
#[derive(Debug)]
pub struct Netlink {
    sock: Socket,
}

impl Netlink {
    /// Open a handle in the calling thread's network namespace.
    pub fn open() -> Result<Netlink> {
        Ok(Netlink {
            sock: Socket::open(libc::NETLINK_ROUTE)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mac_round_trips_through_text() {
        let m: MacAddr = "02:ab:00:10:ff:01".parse().unwrap();
        assert_eq!(m.to_string(), "02:ab:00:10:ff:01");
        assert!("02:ab".parse::<MacAddr>().is_err());
        assert!("02:ab:00:10:ff:01:00".parse::<MacAddr>().is_err());
    }

    #[test]
    fn interface_names_are_checked() {
        assert!(validate_ifname("eth0").is_ok());
        assert!(validate_ifname("eni0123456789a").is_ok());
        assert!(validate_ifname("").is_err());
        assert!(validate_ifname("a-very-long-name0").is_err());
        assert!(validate_ifname("a/b").is_err());
        assert!(validate_ifname("..").is_err());
    }
}
