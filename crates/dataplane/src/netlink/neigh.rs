//! Neighbour (ARP/NDP) entries: permanent add, delete and list.

use std::net::IpAddr;

use super::link::MacAddr;
use super::wire::{self, Msg, c};
use super::{Netlink, family, ip_bytes, parse_ip};
use crate::error::Result;

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
fn ndmsg(fam: u8, index: u32, state: u16) -> [u8; 12] {
    let mut m = [0u8; 12];
    m[0] = fam;
    m[4..8].copy_from_slice(&(index as i32).to_ne_bytes());
    m[8..10].copy_from_slice(&state.to_ne_bytes());
    m
}

impl Netlink {
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
