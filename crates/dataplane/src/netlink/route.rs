//! Routes in the main table: add, delete and list.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;

use super::wire::{self, Msg, c};
use super::{Netlink, Scope, family, ip_bytes, parse_ip};
use crate::error::{Error, Result};

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

impl Netlink {
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
}
