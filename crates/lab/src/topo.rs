//! Namespaces and links: creating and deleting the lab's namespaces (`ip netns` in one batch,
//! so they appear under `/run/netns` like any other), and wiring them with veth pairs,
//! addresses and routes over netlink (`dataplane`). Nothing here touches the root namespace:
//! every handle is opened inside a lab namespace.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use dataplane::netlink::{AddrOpts, Netlink, Route, VethSpec};
use dataplane::netns::NetNs;
use dataplane::sysctl;
use ipnet::IpNet;

use crate::error::{LabError, Result};
use crate::plan::MTU;

const IP_TIMEOUT: Duration = Duration::from_secs(30);
/// Where `ip netns` keeps named namespaces.
pub const NETNS_DIR: &str = "/run/netns";

/// The path of a named namespace.
pub fn netns_path(name: &str) -> PathBuf {
    Path::new(NETNS_DIR).join(name)
}

fn ip_batch(lines: &str, what: &str, force: bool) -> Result<()> {
    if lines.is_empty() {
        return Ok(());
    }
    let mut cmd = Command::new("ip");
    if force {
        cmd.arg("-force");
    }
    cmd.args(["-batch", "-"]);
    // If `up` is killed, `ip` must not go on adding namespaces behind `down`'s back.
    // SAFETY: the closure runs in the child between fork and exec and calls only prctl(2),
    // which is async-signal-safe.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut cmd, || {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    let out = dataplane::exec::run(cmd, lines.as_bytes(), IP_TIMEOUT).map_err(|source| {
        LabError::Exec {
            what: format!("{what} (is iproute2 installed?)"),
            source,
        }
    })?;
    if !out.status.success() && !force {
        return Err(LabError::Command {
            what: what.to_owned(),
            detail: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        });
    }
    Ok(())
}

/// Create the named namespaces (one `ip -batch` for all).
pub fn create_namespaces(names: &[String]) -> Result<()> {
    let lines: String = names.iter().map(|n| format!("netns add {n}\n")).collect();
    ip_batch(&lines, "creating network namespaces", false)
}

/// Delete the named namespaces, best effort (missing ones are fine).
pub fn delete_namespaces(names: &[String]) -> Result<()> {
    let present: Vec<&String> = names.iter().filter(|n| netns_path(n).exists()).collect();
    let lines: String = present.iter().map(|n| format!("netns del {n}\n")).collect();
    ip_batch(&lines, "deleting network namespaces", true)?;
    let left: Vec<&&String> = present.iter().filter(|n| netns_path(n).exists()).collect();
    if left.is_empty() {
        Ok(())
    } else {
        Err(LabError::Teardown(format!(
            "namespaces still present: {left:?}"
        )))
    }
}

/// Named namespaces whose name starts with `prefix`.
pub fn namespaces_with_prefix(prefix: &str) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(NETNS_DIR)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter_map(|e| e.file_name().into_string().ok())
                .filter(|n| n.starts_with(prefix))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// An open lab namespace with a netlink handle inside it.
#[derive(Debug)]
pub struct Ns {
    pub name: String,
    pub handle: NetNs,
    pub nl: Netlink,
}

impl Ns {
    /// Open namespace `name`: loopback up, no duplicate address detection (addresses are
    /// assigned by the region, unique by construction), and forwarding when `forwards`.
    pub fn open(name: &str, forwards: bool) -> Result<Ns> {
        let handle = NetNs::by_name(name).map_err(LabError::dp(format!("opening {name}")))?;
        let (nl, ok) = handle
            .run(move || {
                let set = || -> dataplane::error::Result<()> {
                    for k in [
                        "net.ipv6.conf.all.accept_dad",
                        "net.ipv6.conf.default.accept_dad",
                    ] {
                        sysctl::write(&sysctl::Key::parse(k)?, "0")?;
                    }
                    if forwards {
                        dataplane::node_setup()?;
                    }
                    Ok(())
                };
                (Netlink::open(), set())
            })
            .map_err(LabError::dp(format!("entering {name}")))?;
        ok.map_err(LabError::dp(format!("kernel settings in {name}")))?;
        let mut nl = nl.map_err(LabError::dp(format!("netlink in {name}")))?;
        let lo = nl
            .link_get("lo")
            .map_err(LabError::dp(format!("loopback of {name}")))?;
        nl.link_set_up(lo.index, true)
            .map_err(LabError::dp(format!("loopback of {name}")))?;
        Ok(Ns {
            name: name.to_owned(),
            handle,
            nl,
        })
    }

    /// The index of interface `ifname`.
    pub fn index(&mut self, ifname: &str) -> Result<u32> {
        Ok(self
            .nl
            .link_get(ifname)
            .map_err(LabError::dp(format!("{ifname} in {}", self.name)))?
            .index)
    }

    /// Add `ip/len` to `ifname` (no DAD); `host_only` skips the prefix route.
    pub fn addr(&mut self, ifname: &str, ip: IpAddr, len: u8, host_only: bool) -> Result<()> {
        let idx = self.index(ifname)?;
        let opts = AddrOpts {
            nodad: ip.is_ipv6(),
            noprefixroute: host_only,
            scope: None,
        };
        match self.nl.addr_add(idx, ip, len, opts) {
            Err(e) if !e.is_exists() => Err(LabError::Dataplane {
                what: format!("adding {ip}/{len} to {ifname} in {}", self.name),
                source: e,
            }),
            _ => Ok(()),
        }
    }

    /// Route `dst` out of `ifname` (on-link).
    pub fn route_dev(&mut self, dst: IpNet, ifname: &str) -> Result<()> {
        let idx = self.index(ifname)?;
        self.route(Route::dev(dst, idx))
    }

    /// Route `dst` via `gw` on `ifname`.
    pub fn route_via(&mut self, dst: IpNet, gw: IpAddr, ifname: &str) -> Result<()> {
        let idx = self.index(ifname)?;
        self.route(Route::via(dst, gw, idx))
    }

    fn route(&mut self, r: Route) -> Result<()> {
        match self.nl.route_add(&r) {
            Err(e) if !e.is_exists() => Err(LabError::Dataplane {
                what: format!("adding route {r} in {}", self.name),
                source: e,
            }),
            _ => Ok(()),
        }
    }

    /// Apply an `nft -f` script inside this namespace.
    pub fn nft(&self, script: &str, what: &str) -> Result<()> {
        let script = script.to_owned();
        let out = self
            .handle
            .run(move || {
                let cmd = Command::new("nft");
                let mut c = cmd;
                c.args(["-f", "-"]);
                dataplane::exec::run(c, script.as_bytes(), IP_TIMEOUT)
            })
            .map_err(LabError::dp(format!("entering {}", self.name)))?
            .map_err(|source| LabError::Exec {
                what: format!("{what} in {} (is nftables installed?)", self.name),
                source,
            })?;
        if out.status.success() {
            Ok(())
        } else {
            Err(LabError::Command {
                what: format!("{what} in {}", self.name),
                detail: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
            })
        }
    }
}

/// A veth pair `a_if` (in `a`) ↔ `b_if` (in `b`), created directly in both namespaces, both
/// ends up, MTU [`MTU`].
pub fn veth(a: &mut Ns, a_if: &str, b: &mut Ns, b_if: &str) -> Result<()> {
    use std::os::fd::AsFd;
    let spec = VethSpec {
        name: a_if,
        peer_name: b_if,
        peer_netns: Some(b.handle.as_fd()),
        mtu: Some(MTU),
    };
    a.nl.veth_create(&spec).map_err(LabError::dp(format!(
        "veth {}:{a_if} ↔ {}:{b_if}",
        a.name, b.name
    )))?;
    let ai = a.index(a_if)?;
    a.nl.link_set_up(ai, true)
        .map_err(LabError::dp(format!("{a_if} up in {}", a.name)))?;
    let bi = b.index(b_if)?;
    b.nl.link_set_up(bi, true)
        .map_err(LabError::dp(format!("{b_if} up in {}", b.name)))?;
    Ok(())
}

/// `a/len` as an [`IpNet`] (callers pass valid lengths).
pub fn net(a: impl Into<IpAddr>, len: u8) -> IpNet {
    let a = a.into();
    // Lengths passed are constants within 0..=32/128; fall back to a host route otherwise.
    IpNet::new(a, len).unwrap_or_else(|_| IpNet::from(a))
}

/// `0.0.0.0/0`.
pub fn default_v4() -> IpNet {
    net(Ipv4Addr::UNSPECIFIED, 0)
}

/// `::/0`.
pub fn default_v6() -> IpNet {
    net(Ipv6Addr::UNSPECIFIED, 0)
}

/// A host route's destination (`/32` or `/128`).
pub fn host(a: impl Into<IpAddr>) -> IpNet {
    IpNet::from(a.into())
}
