//! A small synchronous rtnetlink client: links (veth pairs, up/down, MAC, MTU, rename, alias,
//! delete, lookup, list), addresses, routes (main table) and neighbours.
//!
//! A [`Netlink`] handle works in the network namespace where it was opened: open it with
//! [`Netlink::open`] in the current namespace, or with [`crate::netns::NetNs::netlink`] for
//! another one (the socket is opened on a throwaway thread inside that namespace and can then
//! be used from any thread).
mod socket;
pub(crate) mod wire;

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsRawFd, BorrowedFd};
use std::str::FromStr;

use ipnet::IpNet;

use crate::error::{Error, Result};
pub(crate) use socket::Socket;
use wire::{Msg, c};

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

/// An interface address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    pub index: u32,
    pub addr: IpAddr,
    pub prefix_len: u8,
    /// `IFA_F_*` flags.
    pub flags: u32,
}

/// Options for [`Netlink::addr_add`].
#[derive(Debug, Clone, Copy, Default)]
pub struct AddrOpts {
    /// Skip duplicate address detection (`IFA_F_NODAD`; IPv6 only).
    pub nodad: bool,
    /// Do not add the prefix route (`IFA_F_NOPREFIXROUTE`).
    pub noprefixroute: bool,
    /// Address scope (`Link` for link-local style host addresses).
    pub scope: Option<Scope>,
}

/// A route in the main table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub dst: IpNet,
    pub gateway: Option<IpAddr>,
    /// Output interface index.
    pub oif: Option<u32>,
    pub scope: Scope,
    /// Preferred source (`RTA_PREFSRC`).
    pub src: Option<IpAddr>,
}

impl Route {
    /// A device route `dst dev oif scope link`.
    pub fn dev(dst: IpNet, oif: u32) -> Route {
        Route {
            dst,
            gateway: None,
            oif: Some(oif),
            scope: Scope::Link,
            src: None,
        }
    }
    /// A route `dst via gw dev oif`.
    pub fn via(dst: IpNet, gw: IpAddr, oif: u32) -> Route {
        Route {
            dst,
            gateway: Some(gw),
            oif: Some(oif),
            scope: Scope::Universe,
            src: None,
        }
    }
}

impl fmt::Display for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.dst)?;
        if let Some(gw) = self.gateway {
            write!(f, " via {gw}")?;
        }
        if let Some(oif) = self.oif {
            write!(f, " dev #{oif}")?;
        }
        Ok(())
    }
}

/// A neighbour (ARP/NDP) entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Neighbour {
    pub index: u32,
    pub dst: IpAddr,
    pub lladdr: Option<MacAddr>,
    /// `NUD_*` state bits.
    pub state: u16,
}

impl Neighbour {
    /// True for `NUD_PERMANENT` entries.
    pub fn is_permanent(&self) -> bool {
        self.state & c::NUD_PERMANENT != 0
    }
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

fn ifinfomsg(index: u32, flags: u32, change: u32) -> [u8; 16] {
    let mut m = [0u8; 16];
    m[0] = libc::AF_UNSPEC as u8;
    m[4..8].copy_from_slice(&(index as i32).to_ne_bytes());
    m[8..12].copy_from_slice(&flags.to_ne_bytes());
    m[12..16].copy_from_slice(&change.to_ne_bytes());
    m
}

fn ifaddrmsg(fam: u8, prefix: u8, scope: u8, index: u32) -> [u8; 8] {
    let mut m = [0u8; 8];
    m[0] = fam;
    m[1] = prefix;
    m[3] = scope;
    m[4..8].copy_from_slice(&index.to_ne_bytes());
    m
}

fn rtmsg(fam: u8, dst_len: u8, scope: u8, ty: u8) -> [u8; 12] {
    [
        fam,
        dst_len,
        0,
        0,
        c::RT_TABLE_MAIN,
        c::RTPROT_STATIC,
        scope,
        ty,
        0,
        0,
        0,
        0,
    ]
}

fn ndmsg(fam: u8, index: u32, state: u16) -> [u8; 12] {
    let mut m = [0u8; 12];
    m[0] = fam;
    m[4..8].copy_from_slice(&(index as i32).to_ne_bytes());
    m[8..10].copy_from_slice(&state.to_ne_bytes());
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

    // ---- links ----

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

    // ---- addresses ----

    /// Add an address; [`Error::Exists`] if it is already there.
    pub fn addr_add(
        &mut self,
        index: u32,
        addr: IpAddr,
        prefix_len: u8,
        opts: AddrOpts,
    ) -> Result<()> {
        self.addr_change(
            c::RTM_NEWADDR,
            c::NLM_F_CREATE | c::NLM_F_EXCL,
            index,
            addr,
            prefix_len,
            opts,
        )
    }

    /// Delete an address; [`Error::NotFound`] if it is not there.
    pub fn addr_del(&mut self, index: u32, addr: IpAddr, prefix_len: u8) -> Result<()> {
        self.addr_change(
            c::RTM_DELADDR,
            0,
            index,
            addr,
            prefix_len,
            AddrOpts::default(),
        )
    }

    fn addr_change(
        &mut self,
        ty: u16,
        flags: u16,
        index: u32,
        addr: IpAddr,
        prefix_len: u8,
        opts: AddrOpts,
    ) -> Result<()> {
        let max = if addr.is_ipv4() { 32 } else { 128 };
        if prefix_len > max {
            return Err(Error::Invalid {
                what: "prefix length",
                detail: format!("/{prefix_len} for {addr} (at most /{max})"),
            });
        }
        let scope = opts.scope.map(Scope::raw).unwrap_or(0);
        let mut f = 0u32;
        if opts.nodad {
            f |= c::IFA_F_NODAD;
        }
        if opts.noprefixroute {
            f |= c::IFA_F_NOPREFIXROUTE;
        }
        let bytes = ip_bytes(&addr);
        let mut m = Msg::new(ty, c::NLM_F_ACK | flags).raw(&ifaddrmsg(
            family(&addr),
            prefix_len,
            scope,
            index,
        ));
        if addr.is_ipv4() {
            m = m.attr(c::IFA_LOCAL, &bytes);
        }
        m = m.attr(c::IFA_ADDRESS, &bytes);
        if ty == c::RTM_NEWADDR {
            m = m.attr_u32(c::IFA_FLAGS, f);
        }
        let op = if ty == c::RTM_NEWADDR {
            "add address"
        } else {
            "delete address"
        };
        self.sock.request(m, op, &|| {
            format!("address {addr}/{prefix_len} on interface #{index}")
        })
    }

    /// Addresses, optionally only those of one interface.
    pub fn addr_list(&mut self, index: Option<u32>) -> Result<Vec<Address>> {
        let build = || {
            Msg::new(c::RTM_GETADDR, c::NLM_F_DUMP).raw(&ifaddrmsg(libc::AF_UNSPEC as u8, 0, 0, 0))
        };
        let parts = self
            .sock
            .dump(&build, "list addresses", &|| "addresses".into())?;
        let mut out = Vec::new();
        for p in parts {
            if p.len() < 8 {
                continue;
            }
            let (fam, prefix_len) = (p[0], p[1]);
            let Some(idx) = wire::u32_at(&p, 4) else {
                continue;
            };
            if index.is_some_and(|i| i != idx) {
                continue;
            }
            let mut flags = p[2] as u32;
            let (mut local, mut address) = (None, None);
            for (ty, v) in wire::attrs(&p[8..]) {
                match ty {
                    c::IFA_LOCAL => local = parse_ip(fam, v),
                    c::IFA_ADDRESS => address = parse_ip(fam, v),
                    c::IFA_FLAGS => flags = wire::u32_at(v, 0).unwrap_or(flags),
                    _ => {}
                }
            }
            if let Some(addr) = local.or(address) {
                out.push(Address {
                    index: idx,
                    addr,
                    prefix_len,
                    flags,
                });
            }
        }
        Ok(out)
    }

    // ---- routes ----

    fn route_msg(&self, ty: u16, flags: u16, r: &Route, scope: u8) -> Msg {
        let dst = r.dst.trunc();
        let fam = family(&dst.addr());
        let mut m = Msg::new(ty, c::NLM_F_ACK | flags).raw(&rtmsg(
            fam,
            dst.prefix_len(),
            scope,
            c::RTN_UNICAST,
        ));
        if dst.prefix_len() > 0 {
            m = m.attr(c::RTA_DST, &ip_bytes(&dst.addr()));
        }
        if let Some(gw) = r.gateway {
            m = m.attr(c::RTA_GATEWAY, &ip_bytes(&gw));
        }
        if let Some(oif) = r.oif {
            m = m.attr_u32(c::RTA_OIF, oif);
        }
        if let Some(src) = r.src {
            m = m.attr(c::RTA_PREFSRC, &ip_bytes(&src));
        }
        m
    }

    /// Add a route to the main table; [`Error::Exists`] if the same route is there.
    pub fn route_add(&mut self, r: &Route) -> Result<()> {
        if let Some(gw) = r.gateway
            && gw.is_ipv4() != r.dst.addr().is_ipv4()
        {
            return Err(Error::Invalid {
                what: "route",
                detail: format!("{r}: gateway family differs from destination"),
            });
        }
        let m = self.route_msg(
            c::RTM_NEWROUTE,
            c::NLM_F_CREATE | c::NLM_F_EXCL,
            r,
            r.scope.raw(),
        );
        self.sock.request(m, "add route", &|| format!("route {r}"))
    }

    /// Delete a route from the main table; [`Error::NotFound`] if it is not there.
    pub fn route_del(&mut self, r: &Route) -> Result<()> {
        let m = self.route_msg(c::RTM_DELROUTE, 0, r, c::RT_SCOPE_NOWHERE);
        self.sock
            .request(m, "delete route", &|| format!("route {r}"))
    }

    /// Routes of the main table of one family (`v6` true for IPv6).
    pub fn route_list(&mut self, v6: bool) -> Result<Vec<Route>> {
        let fam = if v6 { libc::AF_INET6 } else { libc::AF_INET } as u8;
        let build = || Msg::new(c::RTM_GETROUTE, c::NLM_F_DUMP).raw(&rtmsg(fam, 0, 0, 0));
        let parts = self.sock.dump(&build, "list routes", &|| "routes".into())?;
        let mut out = Vec::new();
        for p in parts {
            if p.len() < 12 {
                continue;
            }
            let (rfam, dst_len, mut table, scope, rtype) = (p[0], p[1], p[4] as u32, p[6], p[7]);
            if rtype != c::RTN_UNICAST {
                continue;
            }
            let (mut dst, mut gateway, mut oif, mut src) = (None, None, None, None);
            for (ty, v) in wire::attrs(&p[12..]) {
                match ty {
                    c::RTA_DST => dst = parse_ip(rfam, v),
                    c::RTA_GATEWAY => gateway = parse_ip(rfam, v),
                    c::RTA_OIF => oif = wire::u32_at(v, 0),
                    c::RTA_PREFSRC => src = parse_ip(rfam, v),
                    c::RTA_TABLE => table = wire::u32_at(v, 0).unwrap_or(table),
                    c::RTA_PRIORITY => {}
                    _ => {}
                }
            }
            if table != c::RT_TABLE_MAIN as u32 {
                continue;
            }
            let dst_ip = match dst {
                Some(d) => d,
                None if rfam == libc::AF_INET as u8 => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                None => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
            };
            let Ok(dst) = IpNet::new(dst_ip, dst_len) else {
                continue;
            };
            out.push(Route {
                dst,
                gateway,
                oif,
                scope: Scope::from_raw(scope),
                src,
            });
        }
        Ok(out)
    }

    // ---- neighbours ----

    /// Add (or replace) a permanent neighbour entry `dst lladdr mac dev index`.
    pub fn neigh_add_permanent(&mut self, index: u32, dst: IpAddr, mac: MacAddr) -> Result<()> {
        let m = Msg::new(
            c::RTM_NEWNEIGH,
            c::NLM_F_ACK | c::NLM_F_CREATE | c::NLM_F_REPLACE,
        )
        .raw(&ndmsg(family(&dst), index, c::NUD_PERMANENT))
        .attr(c::NDA_DST, &ip_bytes(&dst))
        .attr(c::NDA_LLADDR, &mac.0);
        self.sock.request(m, "add neighbour", &|| {
            format!("neighbour {dst} on interface #{index}")
        })
    }

    /// Delete a neighbour entry.
    pub fn neigh_del(&mut self, index: u32, dst: IpAddr) -> Result<()> {
        let m = Msg::new(c::RTM_DELNEIGH, c::NLM_F_ACK)
            .raw(&ndmsg(family(&dst), index, 0))
            .attr(c::NDA_DST, &ip_bytes(&dst));
        self.sock.request(m, "delete neighbour", &|| {
            format!("neighbour {dst} on interface #{index}")
        })
    }

    /// Neighbour entries, optionally only those of one interface.
    pub fn neigh_list(&mut self, index: Option<u32>) -> Result<Vec<Neighbour>> {
        let build =
            || Msg::new(c::RTM_GETNEIGH, c::NLM_F_DUMP).raw(&ndmsg(libc::AF_UNSPEC as u8, 0, 0));
        let parts = self
            .sock
            .dump(&build, "list neighbours", &|| "neighbours".into())?;
        let mut out = Vec::new();
        for p in parts {
            if p.len() < 12 {
                continue;
            }
            let fam = p[0];
            let (Some(idx), Some(state)) = (wire::u32_at(&p, 4), wire::u16_at(&p, 8)) else {
                continue;
            };
            if index.is_some_and(|i| i != idx) {
                continue;
            }
            let (mut dst, mut lladdr) = (None, None);
            for (ty, v) in wire::attrs(&p[12..]) {
                match ty {
                    c::NDA_DST => dst = parse_ip(fam, v),
                    c::NDA_LLADDR if v.len() == 6 => {
                        let mut m = [0u8; 6];
                        m.copy_from_slice(v);
                        lladdr = Some(MacAddr(m));
                    }
                    _ => {}
                }
            }
            if let Some(dst) = dst {
                out.push(Neighbour {
                    index: idx,
                    dst,
                    lladdr,
                    state,
                });
            }
        }
        Ok(out)
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
