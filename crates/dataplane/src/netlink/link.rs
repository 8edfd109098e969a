//! Links: veth pairs, up/down, MAC, MTU, rename, alias, groups, delete, lookup and list; the
//! MAC address and interface name types.

use std::fmt;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::str::FromStr;

use super::Netlink;
use super::wire::{self, Msg, c};
use crate::error::{Error, Result};

/// An Ethernet MAC address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MacAddr(pub [u8; 6]);

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            m[0], m[1], m[2], m[3], m[4], m[5]
        )
    }
}

impl FromStr for MacAddr {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let bad = || Error::Invalid {
            what: "MAC address",
            detail: format!("{s:?} is not six hex bytes like 02:00:00:00:00:01"),
        };
        let mut out = [0u8; 6];
        let mut parts = s.split(':');
        for b in out.iter_mut() {
            let p = parts.next().ok_or_else(bad)?;
            if p.len() != 2 {
                return Err(bad());
            }
            *b = u8::from_str_radix(p, 16).map_err(|_| bad())?;
        }
        if parts.next().is_some() {
            return Err(bad());
        }
        Ok(MacAddr(out))
    }
}

/// Validate a Linux interface name: 1..=15 bytes, no `/`, `:` or whitespace, not `.`/`..`.
pub fn validate_ifname(name: &str) -> Result<()> {
    let bad = |why: &str| Error::Invalid {
        what: "interface name",
        detail: format!("{name:?} {why}"),
    };
    if name.is_empty() || name.len() > 15 {
        return Err(bad("must be 1 to 15 bytes long"));
    }
    if name == "." || name == ".." {
        return Err(bad("is reserved"));
    }
    if name
        .chars()
        .any(|ch| ch == '/' || ch == ':' || ch.is_whitespace() || ch == '\0')
    {
        return Err(bad("must not contain '/', ':', NUL or whitespace"));
    }
    Ok(())
}

/// A network interface as the kernel reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub index: u32,
    pub name: String,
    /// Hardware address (absent for links without one, e.g. some tunnels).
    pub mac: Option<MacAddr>,
    pub mtu: u32,
    /// Administratively up (`IFF_UP`).
    pub up: bool,
    /// `IFLA_INFO_KIND`, e.g. `veth`.
    pub kind: Option<String>,
    /// `IFLA_IFALIAS`, a free-form label (the plugins store their attachment key there).
    pub alias: Option<String>,
}

/// What to create with [`Netlink::veth_create`].
#[derive(Debug, Clone, Copy)]
pub struct VethSpec<'a> {
    /// Name of the end that stays in this handle's namespace.
    pub name: &'a str,
    /// Name of the peer end.
    pub peer_name: &'a str,
    /// Namespace to create the peer in directly (no move afterwards); `None` keeps it here.
    pub peer_netns: Option<BorrowedFd<'a>>,
    /// MTU for both ends.
    pub mtu: Option<u32>,
}

fn ifinfomsg(index: u32, flags: u32, change: u32) -> [u8; 16] {
    let mut m = [0u8; 16];
    m[0] = libc::AF_UNSPEC as u8;
    m[4..8].copy_from_slice(&(index as i32).to_ne_bytes());
    m[8..12].copy_from_slice(&flags.to_ne_bytes());
    m[12..16].copy_from_slice(&change.to_ne_bytes());
    m
}

fn malformed(op: &str, detail: &str) -> Error {
    Error::Malformed {
        op: op.into(),
        detail: detail.into(),
    }
}

fn parse_link(p: &[u8]) -> Result<Link> {
    let op = "link answer";
    if p.len() < 16 {
        return Err(malformed(op, "short ifinfomsg"));
    }
    let index = wire::u32_at(p, 4).ok_or_else(|| malformed(op, "no index"))?;
    let flags = wire::u32_at(p, 8).ok_or_else(|| malformed(op, "no flags"))?;
    let mut link = Link {
        index,
        name: String::new(),
        mac: None,
        mtu: 0,
        up: flags & c::IFF_UP != 0,
        kind: None,
        alias: None,
    };
    for (ty, v) in wire::attrs(&p[16..]) {
        match ty {
            c::IFLA_IFNAME => link.name = wire::c_str(v),
            c::IFLA_ADDRESS if v.len() == 6 => {
                let mut m = [0u8; 6];
                m.copy_from_slice(v);
                link.mac = Some(MacAddr(m));
            }
            c::IFLA_MTU => link.mtu = wire::u32_at(v, 0).unwrap_or(0),
            c::IFLA_IFALIAS => link.alias = Some(wire::c_str(v)).filter(|s| !s.is_empty()),
            c::IFLA_LINKINFO => {
                for (ity, iv) in wire::attrs(v) {
                    if ity == c::IFLA_INFO_KIND {
                        link.kind = Some(wire::c_str(iv));
                    }
                }
            }
            _ => {}
        }
    }
    Ok(link)
}
impl Netlink {
    /// Create a veth pair. The peer is created directly in `spec.peer_netns` when given.
    /// Fails with [`Error::Exists`] if either name is taken (in its namespace).
    pub fn veth_create(&mut self, spec: &VethSpec<'_>) -> Result<()> {
        validate_ifname(spec.name)?;
        validate_ifname(spec.peer_name)?;
        let mut m = Msg::new(
            c::RTM_NEWLINK,
            c::NLM_F_ACK | c::NLM_F_CREATE | c::NLM_F_EXCL,
        )
        .raw(&ifinfomsg(0, 0, 0))
        .attr_str(c::IFLA_IFNAME, spec.name);
        if let Some(mtu) = spec.mtu {
            m = m.attr_u32(c::IFLA_MTU, mtu);
        }
        m = m
            .nest(c::IFLA_LINKINFO)
            .attr_str(c::IFLA_INFO_KIND, "veth")
            .nest(c::IFLA_INFO_DATA)
            .nest(c::VETH_INFO_PEER);
        m = m
            .raw(&ifinfomsg(0, 0, 0))
            .attr_str(c::IFLA_IFNAME, spec.peer_name);
        if let Some(mtu) = spec.mtu {
            m = m.attr_u32(c::IFLA_MTU, mtu);
        }
        if let Some(fd) = spec.peer_netns {
            m = m.attr_u32(c::IFLA_NET_NS_FD, fd.as_raw_fd() as u32);
        }
        let m = m.end_nest().end_nest().end_nest();
        self.sock.request(m, "create veth", &|| {
            format!("interface {} or {}", spec.name, spec.peer_name)
        })
    }

    /// Look a link up by name; [`Error::NotFound`] if there is none.
    pub fn link_get(&mut self, name: &str) -> Result<Link> {
        validate_ifname(name)?;
        let m = Msg::new(c::RTM_GETLINK, 0)
            .raw(&ifinfomsg(0, 0, 0))
            .attr_str(c::IFLA_IFNAME, name);
        let p = self
            .sock
            .get(m, "get link", &|| format!("interface {name}"))?;
        parse_link(&p)
    }

    /// Look a link up by index.
    pub fn link_get_index(&mut self, index: u32) -> Result<Link> {
        let m = Msg::new(c::RTM_GETLINK, 0).raw(&ifinfomsg(index, 0, 0));
        let p = self
            .sock
            .get(m, "get link", &|| format!("interface #{index}"))?;
        parse_link(&p)
    }

    /// Every link in the namespace.
    pub fn link_list(&mut self) -> Result<Vec<Link>> {
        let build = || Msg::new(c::RTM_GETLINK, c::NLM_F_DUMP).raw(&ifinfomsg(0, 0, 0));
        let parts = self.sock.dump(&build, "list links", &|| "links".into())?;
        parts.iter().map(|p| parse_link(p)).collect()
    }

    fn link_set(
        &mut self,
        index: u32,
        flags: u32,
        change: u32,
        attrs: &[(u16, Vec<u8>)],
        op: &str,
    ) -> Result<()> {
        let mut m = Msg::new(c::RTM_NEWLINK, c::NLM_F_ACK).raw(&ifinfomsg(index, flags, change));
        for (ty, v) in attrs {
            m = m.attr(*ty, v);
        }
        self.sock.request(m, op, &|| format!("interface #{index}"))
    }

    /// Set a link administratively up or down.
    pub fn link_set_up(&mut self, index: u32, up: bool) -> Result<()> {
        self.link_set(
            index,
            if up { c::IFF_UP } else { 0 },
            c::IFF_UP,
            &[],
            "set link up/down",
        )
    }

    /// Set a link's MAC address.
    pub fn link_set_mac(&mut self, index: u32, mac: MacAddr) -> Result<()> {
        self.link_set(
            index,
            0,
            0,
            &[(c::IFLA_ADDRESS, mac.0.to_vec())],
            "set link MAC",
        )
    }

    /// Set a link's MTU.
    pub fn link_set_mtu(&mut self, index: u32, mtu: u32) -> Result<()> {
        self.link_set(
            index,
            0,
            0,
            &[(c::IFLA_MTU, mtu.to_ne_bytes().to_vec())],
            "set link MTU",
        )
    }

    /// Rename a link (it must be down).
    pub fn link_rename(&mut self, index: u32, name: &str) -> Result<()> {
        validate_ifname(name)?;
        let mut v = name.as_bytes().to_vec();
        v.push(0);
        self.link_set(index, 0, 0, &[(c::IFLA_IFNAME, v)], "rename link")
    }

    /// Set a link's alias (`ip link set X alias ...`), at most 255 bytes.
    pub fn link_set_alias(&mut self, index: u32, alias: &str) -> Result<()> {
        if alias.len() > 255 {
            return Err(Error::Invalid {
                what: "interface alias",
                detail: format!("{alias:?} is longer than 255 bytes"),
            });
        }
        self.link_set(
            index,
            0,
            0,
            &[(c::IFLA_IFALIAS, alias.as_bytes().to_vec())],
            "set link alias",
        )
    }

    /// Delete a link by index (deleting one end of a veth removes the other).
    pub fn link_del(&mut self, index: u32) -> Result<()> {
        let m = Msg::new(c::RTM_DELLINK, c::NLM_F_ACK).raw(&ifinfomsg(index, 0, 0));
        self.sock
            .request(m, "delete link", &|| format!("interface #{index}"))
    }

    /// Delete a link by name; [`Error::NotFound`] if there is none.
    pub fn link_del_by_name(&mut self, name: &str) -> Result<()> {
        validate_ifname(name)?;
        let m = Msg::new(c::RTM_DELLINK, c::NLM_F_ACK)
            .raw(&ifinfomsg(0, 0, 0))
            .attr_str(c::IFLA_IFNAME, name);
        self.sock
            .request(m, "delete link", &|| format!("interface {name}"))
    }

    /// Move a link, by name, into device group `group` (`ip link set NAME group N`);
    /// [`Error::NotFound`] if there is no such link.
    pub fn link_set_group_by_name(&mut self, name: &str, group: u32) -> Result<()> {
        validate_ifname(name)?;
        let m = Msg::new(c::RTM_NEWLINK, c::NLM_F_ACK)
            .raw(&ifinfomsg(0, 0, 0))
            .attr_str(c::IFLA_IFNAME, name)
            .attr_u32(c::IFLA_GROUP, group);
        self.sock
            .request(m, "set link group", &|| format!("interface {name}"))
    }

    /// Delete every link of device group `group` with one request (`ip link del group N`): the
    /// kernel unregisters them as one batch and waits for its synchronisation once, instead of
    /// once per link. Group 0 holds every link by default and is refused; [`Error::NotFound`]
    /// if the group is empty.
    pub fn link_del_group(&mut self, group: u32) -> Result<()> {
        if group == 0 {
            return Err(Error::Invalid {
                what: "device group",
                detail: "group 0 is every link's default group; refusing to delete it".into(),
            });
        }
        let m = Msg::new(c::RTM_DELLINK, c::NLM_F_ACK)
            .raw(&ifinfomsg(0, 0, 0))
            .attr_u32(c::IFLA_GROUP, group);
        self.sock
            .request(m, "delete link group", &|| format!("device group {group}"))
    }
}
