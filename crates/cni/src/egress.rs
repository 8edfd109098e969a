//! `sixfold-egress-cni`: the pod's node-local IPv4 for egress to IPv4-only destinations,
//! chained after `sixfold-cni` (it needs `prevResult`).
//!
//! - IPAM: the standard `host-local` plugin (found on `CNI_PATH`) hands out an address from
//!   169.254.172.0/22.
//! - Pod: `v4if0` (IPv6 off on it) with `<addr>/22` but no prefix route; instead
//!   `169.254.172.1/32 dev v4if0 scope link`, `169.254.172.0/22 via 169.254.172.1` and the
//!   IPAM routes (the default route) via 169.254.172.1 — every packet goes to the node, which
//!   answers ARP for 169.254.172.1 on the host veth.
//! - Node: host veth `egr<hash>` with `169.254.172.1/32 scope link` and `<addr>/32 dev egr<hash>`;
//!   IPv4 forwarding; the node-wide nftables table ([`dataplane::nft`]) SNATs the range to
//!   `nodeIP` and rejects new forwarded connections into it. No per-pod rules.
//! - Result: `prevResult` plus the two new interfaces; the IPv4 address is NOT added to `ips`
//!   (only the pod's IPv6 is reported to the runtime).
use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

use dataplane::netlink::{AddrOpts, Link, Netlink, Route, Scope};
use dataplane::netns::NetNs;
use dataplane::nft::{self, NodeEgress};
use dataplane::sysctl::{self, Key};
use ipnet::{IpNet, Ipv4Net};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::attachment::{
    Attachment, collect, delete_links_together, gc_links, keep_set, open_pod_ns, release_alongside,
    valid_attachments, verdict,
};
use crate::delegate;
use crate::error::Error;
use crate::names;
use crate::result::{CniResult, Interface, interface_json};
use crate::skel::{Plugin, Request};
use crate::version::CniVersion;
use crate::veth::{self, DEFAULT_MTU, Sides, find_link, label_and_raise, node_netlink};

/// The pods' node-local IPv4 range.
pub const EGRESS_SUBNET: &str = "169.254.172.0/22";
/// The pods' IPv4 gateway (on every egress host veth).
pub const EGRESS_GATEWAY: &str = "169.254.172.1";
/// Alias tag on host veths of this plugin.
pub const ALIAS_TAG: &str = "sixfold-egress";
/// The pod-side interface name unless `ifName` says otherwise.
pub const DEFAULT_IFNAME: &str = "v4if0";
/// host-local's default data directory.
const HOST_LOCAL_DEFAULT_DIR: &str = "/var/lib/cni/networks";

#[derive(Deserialize)]
struct Raw {
    #[serde(rename = "nodeIP")]
    node_ip: Option<Ipv4Addr>,
    #[serde(rename = "randomizeSNAT")]
    randomize: Option<Value>,
    mtu: Option<u32>,
    ipam: Option<Value>,
    #[serde(rename = "ifName")]
    if_name: Option<String>,
}

/// This plugin's configuration fields.
#[derive(Debug, Clone)]
pub struct EgressConf {
    /// SNAT source; without it no egress table is managed.
    pub node_ip: Option<Ipv4Addr>,
    pub random_fully: bool,
    pub mtu: u32,
    /// The `ipam` section, handed to the IPAM plugin.
    pub ipam: Value,
    /// The IPAM plugin's name (`ipam.type`).
    pub ipam_type: String,
    pub ifname: String,
}

impl EgressConf {
    pub fn from_req(req: &Request) -> Result<EgressConf, Error> {
        let raw: Raw = req.conf.plugin()?;
        let random_fully = match &raw.randomize {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) if s == "prng" => true,
            Some(Value::String(s)) if s == "none" || s == "hashrandom" => false,
            Some(other) => {
                return Err(Error::InvalidConfig(format!(
                    "randomizeSNAT {other} must be true/false or one of \"prng\", \"hashrandom\", \"none\""
                )));
            }
        };
        let mtu = raw.mtu.unwrap_or(DEFAULT_MTU);
        if !(576..=65535).contains(&mtu) {
            return Err(Error::InvalidConfig(format!(
                "mtu {mtu} is out of range 576..=65535"
            )));
        }
        let ipam = raw.ipam.ok_or_else(|| {
            Error::InvalidConfig("`ipam` is missing; use {\"type\":\"host-local\",...}".into())
        })?;
        let ipam_type = ipam
            .get("type")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                Error::InvalidConfig("`ipam.type` is missing (e.g. \"host-local\")".into())
            })?
            .to_string();
        let ifname = raw.if_name.unwrap_or_else(|| DEFAULT_IFNAME.into());
        dataplane::netlink::validate_ifname(&ifname)
            .map_err(|e| Error::InvalidConfig(format!("ifName: {e}")))?;
        Ok(EgressConf {
            node_ip: raw.node_ip,
            random_fully,
            mtu,
            ipam,
            ipam_type,
            ifname,
        })
    }

    /// The configuration handed to the IPAM plugin. host-local (Debian 1.1.x) speaks up to
    /// 1.0.0, so newer versions are stepped down; the result is read version-independently.
    fn ipam_stdin(&self, req: &Request) -> Value {
        let v = req.conf.cni_version.min(CniVersion::V1_0_0);
        json!({"cniVersion": v.as_str(), "name": req.conf.name, "ipam": self.ipam})
    }

    /// The IPAM plugin on `CNI_PATH`. A missing or empty `CNI_PATH` is an invalid environment
    /// (code 4), a plugin absent from it an invalid configuration (code 7).
    fn ipam_binary(&self, req: &Request) -> Result<PathBuf, Error> {
        if req.env.path.is_empty() {
            return Err(Error::InvalidEnv {
                var: "CNI_PATH",
                detail: format!(
                    "is required to find the IPAM plugin {:?}; set it to the plugin directories (e.g. /opt/cni/bin:/usr/lib/cni)",
                    self.ipam_type
                ),
            });
        }
        delegate::find(&self.ipam_type, &req.env.path)
    }
}

fn subnet() -> Ipv4Net {
    // A constant that parses: checked by the `constants_parse` test.
    EGRESS_SUBNET.parse().unwrap_or_default()
}

fn gateway() -> Ipv4Addr {
    EGRESS_GATEWAY.parse().unwrap_or(Ipv4Addr::UNSPECIFIED)
}

/// Undo of a partly applied ADD, run on drop unless disarmed.
#[derive(Default)]
struct Rollback {
    host_veth: Option<String>,
    ipam: Option<(PathBuf, Value)>,
}

impl Rollback {
    /// Keep everything: clears the undo list (assigning a new value would run `drop`).
    fn disarm(&mut self) {
        self.host_veth = None;
        self.ipam = None;
    }
}

impl Drop for Rollback {
    fn drop(&mut self) {
        // Best effort: the ADD already failed and reports its own error.
        veth::delete_quietly(self.host_veth.take());
        if let Some((bin, stdin)) = self.ipam.take() {
            let _ = delegate::exec(&bin, "DEL", &[], &stdin);
        }
    }
}

/// The address host-local leased, checked against the fixed egress range, and the routes the
/// pod gets through the gateway (the range itself first, then IPAM's IPv4 routes).
#[derive(Debug, Clone, PartialEq)]
struct Lease {
    net: Ipv4Net,
    routes: Vec<IpNet>,
}

impl Lease {
    /// Read the IPAM plugin's answer: an IPv4 address in [`EGRESS_SUBNET`] via
    /// [`EGRESS_GATEWAY`] (a gateway left out means that one).
    fn from_ipam(plugin: &str, answer: Option<&Value>) -> Result<Lease, Error> {
        let bad = |msg: String| Error::Ipam {
            plugin: plugin.to_string(),
            code: 999,
            msg,
        };
        let res = answer
            .map(CniResult::from_json)
            .transpose()
            .map_err(|e| bad(e.to_string()))?
            .unwrap_or_default();
        let (net, gw) = res
            .ips
            .iter()
            .find_map(|ip| match ip.address {
                IpNet::V4(n) => Some((n, ip.gateway.unwrap_or(IpAddr::V4(gateway())))),
                IpNet::V6(_) => None,
            })
            .ok_or_else(|| bad("returned no IPv4 address".into()))?;
        if !subnet().contains(&net.addr()) || gw != IpAddr::V4(gateway()) {
            return Err(Error::InvalidConfig(format!(
                "IPAM gave {net} via {gw}; the egress range is fixed to {EGRESS_SUBNET} via {EGRESS_GATEWAY}: fix ipam.ranges"
            )));
        }
        let mut routes = vec![IpNet::V4(subnet())];
        routes.extend(
            res.routes
                .iter()
                .map(|r| r.dst)
                .filter(|d| d.addr().is_ipv4() && *d != IpNet::V4(subnet())),
        );
        Ok(Lease { net, routes })
    }

    fn ip(&self) -> IpAddr {
        IpAddr::V4(self.net.addr())
    }
}

/// The pod side: IPv6 off on the egress interface (no link-local, no DAD), up, the leased
/// address without a prefix route, the gateway's /32 on the link and every route via it.
fn wire_pod(pod_ns: &NetNs, pod: &mut Netlink, ifname: &str, lease: &Lease) -> Result<Link, Error> {
    pod_ns
        .run(|| sysctl::write(&Key::conf(true, ifname, "disable_ipv6")?, "1"))
        .and_then(|r| r)
        .map_err(Error::dp(format!("turning IPv6 off on {ifname}")))?;
    let pl = pod
        .link_get(ifname)
        .map_err(Error::dp("looking up the pod egress interface"))?;
    pod.link_set_up(pl.index, true)
        .map_err(Error::dp(format!("setting {ifname} up")))?;
    let noprefixroute = AddrOpts {
        noprefixroute: true,
        ..Default::default()
    };
    pod.addr_add(pl.index, lease.ip(), lease.net.prefix_len(), noprefixroute)
        .map_err(Error::dp(format!("adding {} to {ifname}", lease.net)))?;
    let gw_host = IpNet::V4(Ipv4Net::from(gateway()));
    let mut r = Route::dev(gw_host, pl.index);
    r.src = Some(lease.ip());
    pod.route_add(&r).map_err(Error::dp(format!(
        "adding the route {EGRESS_GATEWAY}/32 in the pod"
    )))?;
    let gw = IpAddr::V4(gateway());
    for dst in &lease.routes {
        let mut r = Route::via(*dst, gw, pl.index);
        r.src = Some(lease.ip());
        pod.route_add(&r).map_err(Error::dp(format!(
            "adding the route {dst} via {gw} in the pod"
        )))?;
    }
    Ok(pl)
}

/// The node side: IPv6 off on the host veth, its label, up, the gateway as a /32 link address
/// and a /32 route to the pod's address.
fn wire_node(
    host: &mut Netlink,
    host_name: &str,
    alias: &str,
    lease: &Lease,
) -> Result<Link, Error> {
    let hl = host
        .link_get(host_name)
        .map_err(Error::dp("looking up the host egress veth"))?;
    sysctl::write(
        &Key::conf(true, host_name, "disable_ipv6").map_err(Error::dp("sysctl key"))?,
        "1",
    )
    .map_err(Error::dp(format!("turning IPv6 off on {host_name}")))?;
    label_and_raise(host, hl.index, host_name, alias)?;
    let link_scope = AddrOpts {
        scope: Some(Scope::Link),
        ..Default::default()
    };
    host.addr_add(hl.index, IpAddr::V4(gateway()), 32, link_scope)
        .map_err(Error::dp(format!(
            "adding {EGRESS_GATEWAY}/32 to {host_name}"
        )))?;
    let pod_host = IpNet::V4(Ipv4Net::from(lease.net.addr()));
    host.route_add(&Route::dev(pod_host, hl.index))
        .map_err(Error::dp(format!(
            "adding the route {pod_host} dev {host_name}"
        )))?;
    Ok(hl)
}

/// `prev` (the previous plugin's result, passed through) in `version`, with `interfaces`
/// appended; the IPv4 address is deliberately not added to `ips`.
fn chained_result(mut prev: Value, version: CniVersion, interfaces: [Interface; 2]) -> Value {
    if let Some(obj) = prev.as_object_mut() {
        obj.insert("cniVersion".into(), json!(version.as_str()));
        let list = obj.entry("interfaces").or_insert_with(|| json!([]));
        if let Some(list) = list.as_array_mut() {
            list.extend(interfaces.iter().map(|i| interface_json(i, version)));
        }
    }
    prev
}

/// The `sixfold-egress-cni` plugin.
pub struct EgressPlugin;

impl Plugin for EgressPlugin {
    fn type_name(&self) -> &'static str {
        "sixfold-egress-cni"
    }

    fn add(&self, req: &Request) -> Result<Value, Error> {
        let conf = EgressConf::from_req(req)?;
        let att = Attachment::from_req(req)?;
        let prev = req.conf.prev_result_raw.clone().ok_or_else(|| {
            Error::InvalidConfig(
                "no prevResult: sixfold-egress-cni must be chained after sixfold-cni in a conflist"
                    .into(),
            )
        })?;
        let mut sides = Sides::open(req, att.host_veth(names::EGRESS_PREFIX))?;
        let ipam_bin = conf.ipam_binary(req)?;
        let ipam_stdin = conf.ipam_stdin(req);

        // Validate before changing anything.
        sides.ensure_free(&conf.ifname)?;
        sysctl::enable_ipv4_forwarding()
            .map_err(Error::dp("turning on IPv4 forwarding on the node"))?;
        if let Some(node_ipv4) = conf.node_ip {
            nft::ensure_node_egress(&NodeEgress {
                node_ipv4,
                random_fully: conf.random_fully,
            })
            .map_err(Error::dp("creating the node's egress nftables table"))?;
        }

        let mut rb = Rollback::default();
        let ipam_out = delegate::exec(&ipam_bin, "ADD", &[], &ipam_stdin)?;
        rb.ipam = Some((ipam_bin.clone(), ipam_stdin.clone()));
        let lease = Lease::from_ipam(&conf.ipam_type, ipam_out.as_ref())?;

        sides.create(&conf.ifname, conf.mtu)?;
        rb.host_veth = Some(sides.host_name.clone());
        let pl = wire_pod(&sides.pod_ns, &mut sides.pod, &conf.ifname, &lease)?;
        let alias = att.alias(ALIAS_TAG);
        let hl = wire_node(&mut sides.host, &sides.host_name, &alias, &lease)?;
        rb.disarm();

        let version = req.conf.cni_version;
        let host_if = Interface {
            name: sides.host_name,
            mac: hl.mac.map(|m| m.to_string()),
            mtu: Some(conf.mtu),
            sandbox: None,
        };
        let pod_if = Interface {
            name: conf.ifname.clone(),
            mac: pl.mac.map(|m| m.to_string()),
            mtu: Some(conf.mtu),
            sandbox: Some(sides.netns_path),
        };
        Ok(chained_result(prev, version, [host_if, pod_if]))
    }

    /// Releases the IPAM lease (host-local, on its own thread) while deleting, in one kernel
    /// batch, this plugin's host veth and the one `sixfold-cni` made for the same attachment:
    /// the runtime runs this DEL first and the whole attachment is going, so the kernel's
    /// unregistration wait is paid once for both (`sixfold-cni`'s DEL then finds its veth gone,
    /// which it treats as done).
    fn del(&self, req: &Request) -> Result<(), Error> {
        let conf = EgressConf::from_req(req)?;
        let att = Attachment::from_req(req)?;
        let (own, pod) = (
            att.host_veth(names::EGRESS_PREFIX),
            att.host_veth(names::POD_PREFIX),
        );
        let (ipam, links) = release_alongside(
            "IPAM release",
            || {
                let bin = conf.ipam_binary(req)?;
                delegate::exec(&bin, "DEL", &[], &conf.ipam_stdin(req)).map(|_| ())
            },
            |host| delete_links_together(host, &[&own, &pod]),
        );
        collect([ipam.err(), links.err()].into_iter().flatten().collect())
    }

    fn check(&self, req: &Request) -> Result<(), Error> {
        let conf = EgressConf::from_req(req)?;
        let att = Attachment::from_req(req)?;
        let host_name = att.host_veth(names::EGRESS_PREFIX);
        let mut missing = Vec::new();
        let pod_ns = open_pod_ns(req)?;
        let mut pod = pod_ns
            .netlink()
            .map_err(Error::dp("opening netlink in the pod"))?;
        let mut pod_addr = None;
        match find_link(
            &mut pod,
            &conf.ifname,
            "looking up the pod egress interface",
        )? {
            Some(pl) => {
                let addrs = pod
                    .addr_list(Some(pl.index))
                    .map_err(Error::dp("listing pod addresses"))?;
                pod_addr = addrs
                    .iter()
                    .map(|a| a.addr)
                    .find(|a| matches!(a, IpAddr::V4(v4) if subnet().contains(v4)));
                if pod_addr.is_none() {
                    missing.push(format!(
                        "an address in {EGRESS_SUBNET} on {} in the pod",
                        conf.ifname
                    ));
                }
                let routes = pod
                    .route_list(false)
                    .map_err(Error::dp("listing pod routes"))?;
                if !routes.iter().any(|r| {
                    r.dst.prefix_len() == 0
                        && r.gateway == Some(IpAddr::V4(gateway()))
                        && r.oif == Some(pl.index)
                }) {
                    missing.push(format!(
                        "pod route default via {EGRESS_GATEWAY} dev {}",
                        conf.ifname
                    ));
                }
            }
            None => missing.push(format!("interface {} in the pod", conf.ifname)),
        }
        let mut host = node_netlink()?;
        match find_link(&mut host, &host_name, "looking up the host egress veth")? {
            Some(hl) => {
                if let Some(a) = pod_addr {
                    let routes = host
                        .route_list(false)
                        .map_err(Error::dp("listing host routes"))?;
                    if !routes.iter().any(|r| {
                        r.dst.addr() == a && r.dst.prefix_len() == 32 && r.oif == Some(hl.index)
                    }) {
                        missing.push(format!("host route {a}/32 dev {host_name}"));
                    }
                }
            }
            None => missing.push(format!("host interface {host_name}")),
        }
        if conf.node_ip.is_some()
            && !nft::table_exists(nft::TABLE).map_err(Error::dp("looking up the egress table"))?
        {
            missing.push(format!("nftables table ip {}", nft::TABLE));
        }
        verdict(missing)
    }

    fn status(&self, req: &Request) -> Result<(), Error> {
        let conf = EgressConf::from_req(req)?;
        match conf.ipam_binary(req) {
            Ok(_) => Ok(()),
            Err(e @ Error::InvalidEnv { .. }) => Err(e),
            Err(e) => Err(Error::NotAvailable(e.to_string())),
        }
    }

    /// host-local 1.1.x has no GC: read its store (files named by address holding
    /// `container id \r\n ifname`) and DEL each attachment not in the valid list through
    /// host-local itself (so its locking is respected); then remove leftover host veths.
    fn gc(&self, req: &Request) -> Result<(), Error> {
        let conf = EgressConf::from_req(req)?;
        let keep = keep_set(&valid_attachments(req)?);
        let mut errors = Vec::new();
        let data_dir = conf
            .ipam
            .get("dataDir")
            .and_then(Value::as_str)
            .unwrap_or(HOST_LOCAL_DEFAULT_DIR);
        let dir = Path::new(data_dir).join(&req.conf.name);
        let stale = match host_local_attachments(&dir) {
            Ok(all) => all
                .into_iter()
                .filter(|k| !keep.contains(k))
                .collect::<Vec<_>>(),
            Err(e) => {
                errors.push(e);
                Vec::new()
            }
        };
        if !stale.is_empty() {
            match conf.ipam_binary(req) {
                Ok(bin) => {
                    let stdin = conf.ipam_stdin(req);
                    for (cid, ifname) in &stale {
                        let env = [
                            ("CNI_CONTAINERID", cid.as_str()),
                            ("CNI_IFNAME", ifname.as_str()),
                            ("CNI_NETNS", ""),
                        ];
                        if let Err(e) = delegate::exec(&bin, "DEL", &env, &stdin) {
                            errors.push(e);
                        }
                    }
                }
                Err(e) => errors.push(e),
            }
        }
        if let Err(e) = gc_links(ALIAS_TAG, &req.conf.name, &keep) {
            errors.push(e);
        }
        collect(errors)
    }
}

/// The attachments host-local holds in `dir` (absent directory: none).
fn host_local_attachments(dir: &Path) -> Result<HashSet<(String, String)>, Error> {
    let mut out = HashSet::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(source) => {
            return Err(Error::Io {
                what: format!("reading host-local's store {}", dir.display()),
                source,
            });
        }
    };
    for entry in entries.flatten() {
        if entry
            .file_name()
            .to_string_lossy()
            .parse::<IpAddr>()
            .is_err()
        {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(entry.path()) else {
            continue;
        };
        let mut lines = text.lines().map(|l| l.trim().to_string());
        if let (Some(cid), Some(ifname)) = (lines.next(), lines.next())
            && !cid.is_empty()
        {
            out.insert((cid, ifname));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(conf: Value) -> Request {
        Request::status_with(conf)
    }

    #[test]
    fn randomize_snat_accepts_bools_and_reference_strings() {
        let base = json!({"cniVersion":"1.0.0","name":"n","type":"t","ipam":{"type":"host-local"}});
        for (v, want) in [
            (json!(true), true),
            (json!(false), false),
            (json!("prng"), true),
            (json!("hashrandom"), false),
            (json!("none"), false),
        ] {
            let mut c = base.clone();
            c["randomizeSNAT"] = v;
            assert_eq!(EgressConf::from_req(&req(c)).unwrap().random_fully, want);
        }
        let mut c = base.clone();
        c["randomizeSNAT"] = json!("sometimes");
        assert_eq!(EgressConf::from_req(&req(c)).unwrap_err().code(), 7);
        let conf = EgressConf::from_req(&req(base)).unwrap();
        assert_eq!(
            (conf.ifname.as_str(), conf.node_ip, conf.mtu),
            ("v4if0", None, 1500)
        );
        let no_ipam = json!({"cniVersion":"1.0.0","name":"n","type":"t"});
        assert!(
            EgressConf::from_req(&req(no_ipam))
                .unwrap_err()
                .to_string()
                .contains("ipam")
        );
    }

    #[test]
    fn ipam_gets_at_most_version_1_0_0() {
        let r =
            req(json!({"cniVersion":"1.1.0","name":"n","type":"t","ipam":{"type":"host-local"}}));
        let conf = EgressConf::from_req(&r).unwrap();
        assert_eq!(conf.ipam_stdin(&r)["cniVersion"], "1.0.0");
        let r =
            req(json!({"cniVersion":"0.3.1","name":"n","type":"t","ipam":{"type":"host-local"}}));
        assert_eq!(conf.ipam_stdin(&r)["cniVersion"], "0.3.1");
    }

    #[test]
    fn a_lease_must_lie_in_the_egress_range_via_its_gateway() {
        let ok = json!({"cniVersion":"1.0.0","ips":[{"address":"169.254.172.7/22","gateway":"169.254.172.1"}],
                        "routes":[{"dst":"0.0.0.0/0"},{"dst":"169.254.172.0/22"},{"dst":"::/0"}]});
        let lease = Lease::from_ipam("host-local", Some(&ok)).unwrap();
        assert_eq!(lease.net.to_string(), "169.254.172.7/22");
        let routes: Vec<String> = lease.routes.iter().map(|r| r.to_string()).collect();
        assert_eq!(routes, ["169.254.172.0/22", "0.0.0.0/0"]);
        let no_gw = json!({"ips":[{"address":"169.254.172.7/22"}]});
        assert!(Lease::from_ipam("host-local", Some(&no_gw)).is_ok());
        let outside = json!({"ips":[{"address":"10.1.0.7/24"}]});
        assert_eq!(Lease::from_ipam("h", Some(&outside)).unwrap_err().code(), 7);
        let other_gw = json!({"ips":[{"address":"169.254.172.7/22","gateway":"169.254.172.9"}]});
        assert_eq!(
            Lease::from_ipam("h", Some(&other_gw)).unwrap_err().code(),
            7
        );
        let v6_only = json!({"ips":[{"address":"2001:db8::7/64"}]});
        assert_eq!(
            Lease::from_ipam("h", Some(&v6_only)).unwrap_err().code(),
            999
        );
        assert_eq!(Lease::from_ipam("h", None).unwrap_err().code(), 999);
    }

    #[test]
    fn constants_parse() {
        assert_eq!(EGRESS_SUBNET.parse::<Ipv4Net>().unwrap(), subnet());
        assert_eq!(gateway(), Ipv4Addr::new(169, 254, 172, 1));
        assert!(subnet().contains(&gateway()));
    }

    #[test]
    fn host_local_store_is_read() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("169.254.172.2"), "abc\r\neth0").unwrap();
        std::fs::write(dir.path().join("last_reserved_ip.0"), "169.254.172.2").unwrap();
        std::fs::write(dir.path().join("lock"), "").unwrap();
        let got = host_local_attachments(dir.path()).unwrap();
        assert_eq!(
            got,
            HashSet::from([("abc".to_string(), "eth0".to_string())])
        );
        assert!(
            host_local_attachments(&dir.path().join("missing"))
                .unwrap()
                .is_empty()
        );
    }
}
