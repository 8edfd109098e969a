//! Interface addresses: add (with flags such as `nodad`), delete and list.

use std::net::IpAddr;

use super::wire::{self, Msg, c};
use super::{Netlink, Scope, family, ip_bytes, parse_ip};
use crate::error::{Error, Result};

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
fn ifaddrmsg(fam: u8, prefix: u8, scope: u8, index: u32) -> [u8; 8] {
    let mut m = [0u8; 8];
    m[0] = fam;
    m[1] = prefix;
    m[3] = scope;
    m[4..8].copy_from_slice(&index.to_ne_bytes());
    m
}

impl Netlink {
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
}
