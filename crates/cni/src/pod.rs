//! `sixfold-cni`: the pod's IPv6 network, as the reference EKS dataplane builds it.
//!
//! - Pod: `eth0` with the agent's /128 (no DAD: `accept_dad=0` and `IFA_F_NODAD`), `lo` up,
//!   `fe80::1/128 dev eth0 scope link`, `default via fe80::1 dev eth0`, and a permanent
//!   neighbour `fe80::1` → the host veth's MAC (so the pod never has to resolve its gateway).
//! - Node: host veth `eni<hash>` (deterministic, see [`crate::names`]) with `fe80::1/64`
//!   (no DAD) so the gateway exists, `<pod>/128 dev eni<hash>`, and a permanent neighbour
//!   `<pod>` → the pod's `eth0` MAC; IPv6 forwarding on. Both neighbours are permanent because
//!   the kernel's neighbour table is one table for the whole machine (all namespaces): its
//!   dynamic entries are capped by `net.ipv6.neigh.default.gc_thresh3` (1,024 by default) and
//!   every pod the node talks to would hold one, so 10 nodes × 110 pods on one kernel overflowed
//!   it and packets to pods were dropped; permanent entries are exempt from the cap.
//!
//! ADD validates everything first (names free, namespace present), then applies with a
//! [`Rollback`] guard: any failure deletes the veth, restores the pod's sysctls and releases
//! the agent's allocation, so a failed ADD leaves nothing. DEL, CHECK, STATUS and GC follow the
//! CNI 1.1 spec; DEL and GC are best effort and idempotent.
use std::net::{IpAddr, Ipv6Addr};
use std::path::PathBuf;

use agent_api::AttachmentKey;
use dataplane::netlink::{AddrOpts, Route, Scope};
use dataplane::netns::NetNs;
use dataplane::sysctl::{self, Key};
use ipnet::{IpNet, Ipv6Net};
use serde::Deserialize;
use serde_json::Value;

use crate::agent;
use crate::attachment::{
    Attachment, collect, delete_link, gc_links, keep_set, open_pod_ns, release_alongside,
    valid_attachments, verdict,
};
use crate::error::Error;
use crate::names;
use crate::result::{CniResult, Interface, IpConfig, RouteEntry};
use crate::skel::{Plugin, Request};
use crate::veth::{self, DEFAULT_MTU, Sides, find_link, label_and_raise, node_netlink};

/// The pod's gateway: every host veth carries it.
pub const GATEWAY: Ipv6Addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1);
/// Alias tag on host veths of this plugin.
pub const ALIAS_TAG: &str = "sixfold";

#[derive(Deserialize)]
struct Raw {
    #[serde(rename = "agentSocket")]
    agent_socket: Option<PathBuf>,
    mtu: Option<u32>,
}

/// This plugin's configuration fields.
#[derive(Debug, Clone)]
pub struct PodConf {
    pub agent_socket: PathBuf,
    pub mtu: u32,
}

impl PodConf {
    /// Read and validate (`mtu` within 1280..=65535: IPv6 needs at least 1280).
    pub fn from_req(req: &Request) -> Result<PodConf, Error> {
        let raw: Raw = req.conf.plugin()?;
        let mtu = raw.mtu.unwrap_or(DEFAULT_MTU);
        if !(1280..=65535).contains(&mtu) {
            return Err(Error::InvalidConfig(format!(
                "mtu {mtu} is out of range; IPv6 needs 1280..=65535"
            )));
        }
        Ok(PodConf {
            agent_socket: raw
                .agent_socket
                .unwrap_or_else(|| PathBuf::from(agent_api::DEFAULT_SOCKET)),
            mtu,
        })
    }
}

/// Undo of a partly applied ADD, run on drop unless disarmed.
#[derive(Default)]
struct Rollback {
    host_veth: Option<String>,
    pod_sysctls: Option<(PathBuf, Vec<(Key, String)>)>,
    release: Option<(PathBuf, AttachmentKey)>,
}

impl Rollback {
    /// Keep everything: clears the undo list (assigning a new value would run `drop`).
    fn disarm(&mut self) {
        self.host_veth = None;
        self.pod_sysctls = None;
        self.release = None;
    }
}

impl Drop for Rollback {
    fn drop(&mut self) {
        // Best effort: the ADD already failed and reports its own error.
        veth::delete_quietly(self.host_veth.take());
        if let Some((path, old)) = self.pod_sysctls.take()
            && let Ok(ns) = NetNs::open(&path)
        {
            let _ = ns.run(|| old.iter().for_each(|(k, v)| drop(sysctl::write(k, v))));
        }
        if let Some((socket, key)) = self.release.take() {
            let _ = agent::del(&socket, key);
        }
    }
}

/// Turn DAD off in the pod before any address exists; records all/default's old values.
fn pod_sysctls(ifname: &str, changed: &mut Vec<(Key, String)>) -> Result<(), dataplane::Error> {
    for scope in ["all", "default"] {
        let key = Key::conf(true, scope, "accept_dad")?;
        let old = sysctl::ensure(&key, "0")?;
        if old != "0" {
            changed.push((key, old));
        }
    }
    // The interface's own key vanishes with the interface: nothing to restore.
    sysctl::ensure(&Key::conf(true, ifname, "accept_dad")?, "0")?;
    Ok(())
}

/// The `sixfold-cni` plugin.
pub struct PodPlugin;

impl Plugin for PodPlugin {
    fn type_name(&self) -> &'static str {
        "sixfold-cni"
    }

    fn add(&self, req: &Request) -> Result<Value, Error> {
        let conf = PodConf::from_req(req)?;
        let att = Attachment::from_req(req)?;
        let mut sides = Sides::open(req, att.host_veth(names::POD_PREFIX))?;

        // Validate before changing anything.
        sides.ensure_free(&att.ifname)?;
        sysctl::enable_ipv6_forwarding()
            .map_err(Error::dp("turning on IPv6 forwarding on the node"))?;

        let mut rb = Rollback::default();
        let address = agent::add(
            &conf.agent_socket,
            att.key(),
            Some(sides.netns_path.clone()),
        )?;
        rb.release = Some((conf.agent_socket.clone(), att.key()));

        sides.create(&att.ifname, conf.mtu)?;
        let Sides {
            netns_path,
            pod_ns,
            mut host,
            mut pod,
            host_name,
        } = sides;
        rb.host_veth = Some(host_name.clone());

        let mut changed = Vec::new();
        let set = pod_ns.run(|| pod_sysctls(&att.ifname, &mut changed));
        rb.pod_sysctls = Some((PathBuf::from(&netns_path), changed));
        set.and_then(|r| r)
            .map_err(Error::dp("turning off DAD in the pod (accept_dad=0)"))?;

        let hl = host
            .link_get(&host_name)
            .map_err(Error::dp("looking up the host veth"))?;
        let pl = pod
            .link_get(&att.ifname)
            .map_err(Error::dp("looking up the pod interface"))?;
        let host_mac = hl.mac.ok_or_else(|| {
            Error::InvalidConfig(format!("host veth {host_name} has no MAC address"))
        })?;
        let pod_mac = pl.mac.ok_or_else(|| {
            Error::InvalidConfig(format!("pod interface {} has no MAC address", att.ifname))
        })?;
        let gw = IpAddr::V6(GATEWAY);
        let pod_net =
            IpNet::V6(Ipv6Net::new(address, 128).map_err(|e| Error::InvalidConfig(e.to_string()))?);
        let nodad = AddrOpts {
            nodad: true,
            ..Default::default()
        };

        // Pod side.
        let lo = pod
            .link_get("lo")
            .map_err(Error::dp("looking up lo in the pod"))?;
        pod.link_set_up(lo.index, true)
            .map_err(Error::dp("setting lo up in the pod"))?;
        pod.link_set_up(pl.index, true)
            .map_err(Error::dp(format!("setting {} up", att.ifname)))?;
        pod.addr_add(pl.index, IpAddr::V6(address), 128, nodad)
            .map_err(Error::dp(format!("adding {address}/128 to {}", att.ifname)))?;
        let gw_net =
            IpNet::V6(Ipv6Net::new(GATEWAY, 128).map_err(|e| Error::InvalidConfig(e.to_string()))?);
        pod.route_add(&Route::dev(gw_net, pl.index))
            .map_err(Error::dp("adding the route fe80::1/128 in the pod"))?;
        let default = IpNet::V6(Ipv6Net::default());
        pod.route_add(&Route::via(default, gw, pl.index))
            .map_err(Error::dp("adding the default route via fe80::1 in the pod"))?;
        pod.neigh_add_permanent(pl.index, gw, host_mac)
            .map_err(Error::dp("adding the neighbour fe80::1 in the pod"))?;

        // Node side.
        label_and_raise(&mut host, hl.index, &host_name, &att.alias(ALIAS_TAG))?;
        host.addr_add(
            hl.index,
            gw,
            64,
            AddrOpts {
                nodad: true,
                scope: Some(Scope::Link),
                ..Default::default()
            },
        )
        .map_err(Error::dp(format!("adding fe80::1/64 to {host_name}")))?;
        host.route_add(&Route::dev(pod_net, hl.index))
            .map_err(Error::dp(format!(
                "adding the route {pod_net} dev {host_name}"
            )))?;
        host.neigh_add_permanent(hl.index, IpAddr::V6(address), pod_mac)
            .map_err(Error::dp(format!(
                "adding the neighbour {address} on {host_name}"
            )))?;

        rb.disarm();
        let result = CniResult {
            interfaces: vec![
                Interface {
                    name: host_name,
                    mac: Some(host_mac.to_string()),
                    mtu: Some(conf.mtu),
                    sandbox: None,
                },
                Interface {
                    name: att.ifname.clone(),
                    mac: Some(pod_mac.to_string()),
                    mtu: Some(conf.mtu),
                    sandbox: Some(netns_path),
                },
            ],
            ips: vec![IpConfig {
                address: pod_net,
                gateway: Some(gw),
                interface: Some(1),
            }],
            routes: vec![RouteEntry {
                dst: default,
                gw: None,
            }],
            dns: None,
        };
        Ok(result.to_json(req.conf.cni_version))
    }

    fn del(&self, req: &Request) -> Result<(), Error> {
        let conf = PodConf::from_req(req)?;
        let att = Attachment::from_req(req)?;
        // The agent's release (a durable write) runs on its own thread while the link goes.
        // Deleting the host end removes the pod end and the host /128 route with it; a vanished
        // namespace took both ends already, and so did the egress plugin's DEL in a chain.
        let (release, link) = release_alongside(
            "agent release",
            || agent::del(&conf.agent_socket, att.key()).map(|_| ()),
            |host| delete_link(host, &att.host_veth(names::POD_PREFIX)),
        );
        collect([link.err(), release.err()].into_iter().flatten().collect())
    }

    fn check(&self, req: &Request) -> Result<(), Error> {
        let conf = PodConf::from_req(req)?;
        let att = Attachment::from_req(req)?;
        let prev = req
            .conf
            .prev_result
            .as_ref()
            .ok_or_else(|| Error::InvalidConfig("CHECK needs prevResult".into()))?;
        let pod_if = prev
            .interfaces
            .iter()
            .position(|i| i.name == att.ifname && i.sandbox.is_some());
        let ip = prev
            .ips
            .iter()
            .find(|ip| ip.address.addr().is_ipv6() && (pod_if.is_none() || ip.interface == pod_if))
            .ok_or_else(|| {
                Error::InvalidConfig(format!("prevResult has no IPv6 address for {}", att.ifname))
            })?;
        let addr = ip.address.addr();
        let host_name = att.host_veth(names::POD_PREFIX);
        let gw = IpAddr::V6(GATEWAY);
        let mut missing = Vec::new();

        let mut host = node_netlink()?;
        let hl = find_link(&mut host, &host_name, "looking up the host veth")?;
        if hl.is_none() {
            missing.push(format!("host interface {host_name}"));
        }
        if let Some(hl) = &hl {
            let addrs = host
                .addr_list(Some(hl.index))
                .map_err(Error::dp("listing host addresses"))?;
            if !addrs.iter().any(|a| a.addr == gw) {
                missing.push(format!("address fe80::1 on {host_name}"));
            }
            let routes = host
                .route_list(true)
                .map_err(Error::dp("listing host routes"))?;
            if !routes.iter().any(|r| {
                r.dst.addr() == addr && r.dst.prefix_len() == 128 && r.oif == Some(hl.index)
            }) {
                missing.push(format!("host route {addr}/128 dev {host_name}"));
            }
            let neigh = host
                .neigh_list(Some(hl.index))
                .map_err(Error::dp("listing host neighbours"))?;
            if !neigh.iter().any(|n| n.dst == addr && n.is_permanent()) {
                missing.push(format!("permanent host neighbour {addr} on {host_name}"));
            }
        }

        let pod_ns = open_pod_ns(req)?;
        let mut pod = pod_ns
            .netlink()
            .map_err(Error::dp("opening netlink in the pod"))?;
        match find_link(&mut pod, &att.ifname, "looking up the pod interface")? {
            Some(pl) => {
                let addrs = pod
                    .addr_list(Some(pl.index))
                    .map_err(Error::dp("listing pod addresses"))?;
                if !addrs.iter().any(|a| a.addr == addr && a.prefix_len == 128) {
                    missing.push(format!("address {addr}/128 on {} in the pod", att.ifname));
                }
                let routes = pod
                    .route_list(true)
                    .map_err(Error::dp("listing pod routes"))?;
                if !routes.iter().any(|r| {
                    r.dst.addr() == gw && r.dst.prefix_len() == 128 && r.oif == Some(pl.index)
                }) {
                    missing.push(format!("pod route fe80::1/128 dev {}", att.ifname));
                }
                if !routes.iter().any(|r| {
                    r.dst.prefix_len() == 0 && r.gateway == Some(gw) && r.oif == Some(pl.index)
                }) {
                    missing.push(format!("pod route default via fe80::1 dev {}", att.ifname));
                }
                let neigh = pod
                    .neigh_list(Some(pl.index))
                    .map_err(Error::dp("listing pod neighbours"))?;
                let want_mac = hl.as_ref().and_then(|h| h.mac);
                if !neigh.iter().any(|n| {
                    n.dst == gw && n.is_permanent() && (want_mac.is_none() || n.lladdr == want_mac)
                }) {
                    missing.push(format!(
                        "permanent pod neighbour fe80::1 -> host veth MAC on {}",
                        att.ifname
                    ));
                }
            }
            None => missing.push(format!("interface {} in the pod", att.ifname)),
        }

        match agent::list(&conf.agent_socket) {
            Ok(allocs) => {
                let key = att.key();
                if !allocs
                    .iter()
                    .any(|a| a.key == key && IpAddr::V6(a.address) == addr)
                {
                    missing.push(format!(
                        "agent allocation of {addr} for {}/{}/{}",
                        att.network, att.container_id, att.ifname
                    ));
                }
            }
            Err(e) => missing.push(format!("agent allocation (agent unreachable: {e})")),
        }
        verdict(missing)
    }

    fn status(&self, req: &Request) -> Result<(), Error> {
        let conf = PodConf::from_req(req)?;
        agent::status(&conf.agent_socket).map(|_| ())
    }

    fn gc(&self, req: &Request) -> Result<(), Error> {
        let conf = PodConf::from_req(req)?;
        let valid = valid_attachments(req)?;
        let network = req.conf.name.clone();
        let keep = keep_set(&valid);
        let keys = valid
            .into_iter()
            .map(|v| AttachmentKey {
                network: network.clone(),
                container_id: v.container_id,
                ifname: v.ifname,
            })
            .collect();
        let mut errors = Vec::new();
        if let Err(e) = agent::gc(&conf.agent_socket, network.clone(), keys) {
            errors.push(e);
        }
        if let Err(e) = gc_links(ALIAS_TAG, &network, &keep) {
            errors.push(e);
        }
        collect(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn req(conf: Value) -> Request {
        Request::status_with(conf)
    }

    #[test]
    fn config_defaults_and_mtu_bounds() {
        let c =
            PodConf::from_req(&req(json!({"cniVersion":"1.0.0","name":"n","type":"t"}))).unwrap();
        assert_eq!(c.agent_socket, PathBuf::from(agent_api::DEFAULT_SOCKET));
        assert_eq!(c.mtu, DEFAULT_MTU);
        let c = PodConf::from_req(&req(
            json!({"cniVersion":"1.0.0","name":"n","type":"t","agentSocket":"/x.sock","mtu":9001}),
        ))
        .unwrap();
        assert_eq!((c.agent_socket, c.mtu), (PathBuf::from("/x.sock"), 9001));
        let e = PodConf::from_req(&req(
            json!({"cniVersion":"1.0.0","name":"n","type":"t","mtu":1000}),
        ))
        .unwrap_err();
        assert_eq!(e.code(), 7);
        assert!(e.to_string().contains("1280"));
    }
}
