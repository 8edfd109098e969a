//! nftables: the node's egress table (SNAT of pod IPv4 to the node, guard on 169.254.172.0/22).
//!
//! One table `ip sixfold` per node namespace, created atomically by `nft -f -`:
//! - `postrouting` (nat, srcnat): traffic from 169.254.172.0/22 to anywhere else is SNATed to
//!   the node's primary IPv4 (optionally `fully-random`);
//! - `forward` (filter): new forwarded connections *to* 169.254.172.0/22 are rejected (pods'
//!   node-local IPv4 is for egress only; replies to their own connections still pass).
//!
//! Per-pod rules are not needed: the one SNAT rule covers every pod of the node, so pod
//! ADD/DEL never touch nftables. The table carries a comment fingerprinting its settings; the
//! check on the hot path is a single netfilter netlink `GETTABLE` (no `nft` exec), and `nft`
//! runs only when the table is missing or its settings changed.
use std::net::Ipv4Addr;
use std::process::Command;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::exec;
use crate::netlink::Socket;
use crate::netlink::wire::{self, Msg, c};

/// The table's name (family `ip`).
pub const TABLE: &str = "sixfold";
/// The pods' node-local IPv4 range.
pub const EGRESS_RANGE: &str = "169.254.172.0/22";
/// How long `nft` may take.
const NFT_TIMEOUT: Duration = Duration::from_secs(10);

/// What the node-wide egress table needs.
#[derive(Debug, Clone)]
pub struct NodeEgress {
    /// The node's primary IPv4: the SNAT source for pod IPv4 egress.
    pub node_ipv4: Ipv4Addr,
    /// Use fully random SNAT ports.
    pub random_fully: bool,
}

impl NodeEgress {
    /// The comment stored on the table: identifies the settings it was built with.
    pub fn fingerprint(&self) -> String {
        format!(
            "sixfold egress v1 snat={} random={}",
            self.node_ipv4,
            u8::from(self.random_fully)
        )
    }

    /// The `nft -f` script that (re)creates the table atomically.
    pub fn script(&self) -> String {
        let random = if self.random_fully {
            " fully-random"
        } else {
            ""
        };
        format!(
            "table ip {TABLE}\n\
             delete table ip {TABLE}\n\
             table ip {TABLE} {{\n\
             \tcomment \"{fp}\"\n\
             \tchain postrouting {{\n\
             \t\ttype nat hook postrouting priority srcnat; policy accept;\n\
             \t\tip saddr {EGRESS_RANGE} ip daddr != {EGRESS_RANGE} snat to {ip}{random}\n\
             \t}}\n\
             \tchain forward {{\n\
             \t\ttype filter hook forward priority filter; policy accept;\n\
             \t\tip daddr {EGRESS_RANGE} ct state new reject with icmp type admin-prohibited\n\
             \t}}\n\
             }}\n",
            fp = self.fingerprint(),
            ip = self.node_ipv4,
        )
    }
}

/// Create (idempotently) the node's egress nftables table in the current network namespace.
/// Cheap when the table is already there with the same settings (one netlink request).
pub fn ensure_node_egress(cfg: &NodeEgress) -> Result<()> {
    if let Some(userdata) = table_userdata(TABLE)?
        && contains(&userdata, cfg.fingerprint().as_bytes())
    {
        return Ok(());
    }
    run_nft(&cfg.script(), "create the egress table")
}

/// Remove the node's egress table from the current namespace; [`Error::NotFound`] if absent.
pub fn delete_node_egress() -> Result<()> {
    if table_userdata(TABLE)?.is_none() {
        return Err(Error::NotFound {
            what: format!("nftables table ip {TABLE}"),
        });
    }
    run_nft(
        &format!("delete table ip {TABLE}\n"),
        "delete the egress table",
    )
}

/// Whether table `ip NAME` exists in the current namespace.
pub fn table_exists(name: &str) -> Result<bool> {
    Ok(table_userdata(name)?.is_some())
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// Ask nf_tables for table `ip NAME`: `None` if absent, else its user data (comment) bytes.
fn table_userdata(name: &str) -> Result<Option<Vec<u8>>> {
    let mut sock = Socket::open(c::NETLINK_NETFILTER)?;
    let nfgenmsg = [libc::AF_INET as u8, 0, 0, 0];
    let msg = Msg::new(
        (c::NFNL_SUBSYS_NFTABLES << 8) | c::NFT_MSG_GETTABLE,
        c::NLM_F_ACK,
    )
    .raw(&nfgenmsg)
    .attr_str(c::NFTA_TABLE_NAME, name);
    match sock.get(msg, "get nftables table", &|| {
        format!("nftables table ip {name}")
    }) {
        Ok(payload) => {
            let attrs = payload.get(4..).unwrap_or_default();
            let ud = wire::attrs(attrs)
                .find(|(ty, _)| *ty == c::NFTA_TABLE_USERDATA)
                .map(|(_, v)| v.to_vec());
            Ok(Some(ud.unwrap_or_default()))
        }
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

fn run_nft(script: &str, what: &str) -> Result<()> {
    let mut cmd = Command::new("nft");
    cmd.args(["-f", "-"]);
    let out = exec::run(cmd, script.as_bytes(), NFT_TIMEOUT).map_err(|e| Error::Nft {
        what: what.into(),
        detail: e.to_string(),
    })?;
    if !out.status.success() {
        return Err(Error::Nft {
            what: what.into(),
            detail: format!(
                "exited with {}: {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_snats_the_egress_range_and_guards_it() {
        let s = NodeEgress {
            node_ipv4: Ipv4Addr::new(198, 51, 100, 10),
            random_fully: true,
        }
        .script();
        assert!(s.contains("ip saddr 169.254.172.0/22 ip daddr != 169.254.172.0/22 snat to 198.51.100.10 fully-random"));
        assert!(s.contains("ip daddr 169.254.172.0/22 ct state new reject"));
        assert!(s.contains("comment \"sixfold egress v1 snat=198.51.100.10 random=1\""));
        let plain = NodeEgress {
            node_ipv4: Ipv4Addr::new(198, 51, 100, 10),
            random_fully: false,
        }
        .script();
        assert!(!plain.contains("fully-random"));
    }
}
