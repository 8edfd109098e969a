//! End-to-end tests (root) of route tables and security groups enforced on the lab's packets,
//! each driven by the real AWS CLI against the lab's own region and proven both ways. Nothing
//! here tells the lab to sync: after each API call the test probes until the packet outcome
//! follows (bounded by [`FOLLOW`]), so what converges the dataplane is the lab's reconciler
//! watching the region's change feed (how fast is `bench/lab-policy.sh`'s business, not a
//! test's).
//!
//! Covered: the `::/0` route deleted (the pod's IPv6 internet traffic gets the router's ICMPv6
//! "no route", ENETUNREACH) and restored; the subnet's route table disassociated (the main table
//! has no `::/0`) and associated again; `::/0` to the internet gateway (the internet reaches the
//! pod once its group allows it) and back to the egress-only gateway (refused there, EACCES); the
//! IPv6 egress rule revoked (a silent drop: a timeout, with the drop counter of the node's egress
//! chain increased) and authorized again; the node's interface moved to a group without IPv6
//! egress and back; a pod with its own security group (a branch interface) reachable on the port
//! its group allows a group reference on, dropped on another port and from outside the
//! referenced group. Each test brings up a small lab with a unique name (`common::lab::Lab`,
//! removed in its Drop).

mod common;

use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::lab::{Lab, UP_TIMEOUT, sixfold};
use serde_json::Value;

const CMD_TIMEOUT: Duration = Duration::from_secs(60);
/// One connection attempt; a silent drop shows as this timeout.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a test waits for the dataplane to follow a change of the region: generous (the
/// goal is 2 s, measured by the benchmark; a loaded CI machine must not fail the test).
const FOLLOW: Duration = Duration::from_secs(20);

/// What one connection attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    /// The far end answered this line.
    Answered(String),
    /// Refused at once with this errno (the kernel's reading of an ICMP error).
    Refused(i32),
    /// No answer within [`PROBE_TIMEOUT`]: a security group's silent drop.
    Dropped,
    /// Anything else (kept whole for the failure message).
    Other(String),
}

/// One connection attempt from namespace `ns` to `to` that reads the responder's line.
fn attempt(ns: &str, to: SocketAddr) -> Outcome {
    let h = dataplane::netns::NetNs::by_name(ns).expect("the namespace exists");
    let r = h
        .run(move || lab::probe::try_tcp_line(to, PROBE_TIMEOUT))
        .expect("entering the namespace");
    match r {
        Ok(line) => Outcome::Answered(line),
        Err(e)
            if e.kind() == std::io::ErrorKind::TimedOut
                || e.kind() == std::io::ErrorKind::WouldBlock =>
        {
            Outcome::Dropped
        }
        Err(e) => match e.raw_os_error() {
            Some(n) => Outcome::Refused(n),
            None => Outcome::Other(e.to_string()),
        },
    }
}

/// The answer of the lab's responders: `<who> saw <source address>`.
fn saw(who: &str, from: impl std::fmt::Display) -> Outcome {
    Outcome::Answered(format!("{who} saw {from}"))
}

/// The lab's state and the lookups the tests make in it.
trait LabExt {
    fn s(&self, ptr: &str) -> String;
    fn ns(&self, role: &str) -> String;
    fn aws_ok(&self, args: &[&str]) -> Value;
    fn pod_addr(&self, name: &str) -> (String, Ipv6Addr);
    fn internet(&self, v6: bool) -> SocketAddr;
    fn node_group(&self) -> String;
    fn drops(&self, node: &str, chain: &str) -> u64;
    fn expect(&self, ns: &str, to: SocketAddr, want: &Outcome, what: &str);
    fn follows(&self, ns: &str, to: SocketAddr, want: &Outcome, what: &str);
}

impl LabExt for Lab {
    fn s(&self, ptr: &str) -> String {
        self.state()
            .pointer(ptr)
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("{ptr} missing in the lab state"))
            .to_owned()
    }
    fn ns(&self, role: &str) -> String {
        format!("sfl-{}-{role}", self.name)
    }
    fn aws_ok(&self, args: &[&str]) -> Value {
        self.aws(args).json()
    }
    /// Pod `name`'s namespace and IPv6 address.
    fn pod_addr(&self, name: &str) -> (String, Ipv6Addr) {
        let s = self.state();
        let p = s["pods"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("no pod {name} in the state: {}", s["pods"]));
        (
            p["netns"].as_str().expect("netns").to_owned(),
            p["ipv6"].as_str().expect("ipv6").parse().expect("an IPv6"),
        )
    }
    /// The internet host's responder.
    fn internet(&self, v6: bool) -> SocketAddr {
        let ip = self.s(if v6 {
            "/internet_ipv6"
        } else {
            "/internet_ipv4"
        });
        SocketAddr::new(ip.parse().expect("an address"), lab::plan::INTERNET_PORT)
    }
    /// The security group of node 1's primary interface (the cluster security group).
    fn node_group(&self) -> String {
        let r = self.aws_ok(&[
            "ec2",
            "describe-network-interfaces",
            "--network-interface-ids",
            &self.s("/nodes/0/eni"),
        ]);
        let g = &r["NetworkInterfaces"][0]["Groups"];
        assert_eq!(g.as_array().map(Vec::len), Some(1), "{g}");
        g[0]["GroupId"].as_str().expect("GroupId").to_owned()
    }
    /// Packets counted by the drop rule of chain `chain` in node `node`'s security-group table.
    fn drops(&self, node: &str, chain: &str) -> u64 {
        let mut c = Command::new("ip");
        c.args([
            "netns",
            "exec",
            &self.ns(node),
            "nft",
            "-j",
            "list",
            "chain",
            "inet",
        ])
        .args([lab::policy::sg::TABLE, chain]);
        let out = common::run(c, CMD_TIMEOUT);
        assert_eq!(out.code, 0, "nft -j list chain {chain}: {}", out.stderr);
        let v: Value = serde_json::from_str(&out.stdout).expect("nft -j is JSON");
        let rules: Vec<&Value> = v["nftables"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|o| o.get("rule"))
            .filter(|r| {
                r["expr"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|e| e.get("drop").is_some())
            })
            .collect();
        assert_eq!(rules.len(), 1, "one drop rule in {chain}: {v}");
        rules[0]["expr"]
            .as_array()
            .into_iter()
            .flatten()
            .find_map(|e| e.pointer("/counter/packets").and_then(Value::as_u64))
            .unwrap_or_else(|| panic!("the drop rule of {chain} has no counter: {v}"))
    }
    /// One attempt from `ns` to `to` comes to `want` now.
    fn expect(&self, ns: &str, to: SocketAddr, want: &Outcome, what: &str) {
        let got = attempt(ns, to);
        assert_eq!(&got, want, "{what}: {ns} → {to}");
    }
    /// Attempts from `ns` to `to` come to `want` within [`FOLLOW`]: the reconciler made the
    /// dataplane follow the region (nothing else syncs it). Panics with the outcomes seen and
    /// the reconciler's log otherwise.
    fn follows(&self, ns: &str, to: SocketAddr, want: &Outcome, what: &str) {
        let start = Instant::now();
        let mut seen = Vec::new();
        loop {
            let got = attempt(ns, to);
            if &got == want {
                return;
            }
            if seen.last() != Some(&got) {
                seen.push(got);
            }
            if start.elapsed() > FOLLOW {
                let log = std::fs::read_to_string(self.state_dir().join("logs/reconciler.log"))
                    .unwrap_or_default();
                panic!(
                    "{what}: {ns} → {to} did not come to {want:?} within {FOLLOW:?} (saw {seen:?})\nreconciler log:\n{log}"
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn small_lab(fargate: &str) -> Lab {
    Lab::up(&[
        "--services",
        "0",
        "--nodes",
        "2",
        "--pods-per-node",
        "1",
        "--fargate-pods",
        fargate,
    ])
}

/// `aws ec2 delete-route` of `::/0`.
fn delete_default_v6(lab: &Lab, rt: &str) {
    lab.aws_ok(&[
        "ec2",
        "delete-route",
        "--route-table-id",
        rt,
        "--destination-ipv6-cidr-block",
        "::/0",
    ]);
}

/// `aws ec2 create-route` of `::/0` to `target` (`--gateway-id ID` or
/// `--egress-only-internet-gateway-id ID`).
fn create_default_v6(lab: &Lab, rt: &str, (flag, id): (&str, &str)) {
    lab.aws_ok(&[
        "ec2",
        "create-route",
        "--route-table-id",
        rt,
        "--destination-ipv6-cidr-block",
        "::/0",
        flag,
        id,
    ]);
}

#[test]
fn pod_ipv6_internet_traffic_gets_no_route_without_the_default_route_and_works_once_restored() {
    let lab = small_lab("0");
    let (pod, ip) = lab.pod_addr("web-1-1");
    let (rt, eigw) = (lab.s("/vpc/route_table"), lab.s("/vpc/egress_only_gateway"));
    let (inet6, inet4) = (lab.internet(true), lab.internet(false));
    let works = saw("internet", ip);
    let no_route = Outcome::Refused(libc::ENETUNREACH);
    lab.expect(&pod, inet6, &works, "before any change");

    delete_default_v6(&lab, &rt);
    lab.follows(
        &pod,
        inet6,
        &no_route,
        "without ::/0 the router answers no-route",
    );
    // The subnet's IPv4 default route is untouched.
    let node_ip = lab.s("/nodes/0/public_ipv4");
    lab.expect(&pod, inet4, &saw("internet", &node_ip), "IPv4 still works");

    create_default_v6(&lab, &rt, ("--egress-only-internet-gateway-id", &eigw));
    lab.follows(&pod, inet6, &works, "::/0 to the EIGW restored");

    // The subnet's association removed: it falls back to the VPC's main table, which has no
    // `::/0`; associated again, the route is back.
    let subnet = lab.aws_ok(&[
        "ec2",
        "describe-network-interfaces",
        "--network-interface-ids",
        &lab.s("/nodes/0/eni"),
    ])["NetworkInterfaces"][0]["SubnetId"]
        .as_str()
        .expect("SubnetId")
        .to_owned();
    let tables = lab.aws_ok(&["ec2", "describe-route-tables", "--route-table-ids", &rt]);
    let assoc = tables["RouteTables"][0]["Associations"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|a| a["SubnetId"] == subnet.as_str())
        .and_then(|a| a["RouteTableAssociationId"].as_str())
        .unwrap_or_else(|| panic!("{rt} is not associated with {subnet}: {tables}"))
        .to_owned();
    lab.aws_ok(&[
        "ec2",
        "disassociate-route-table",
        "--association-id",
        &assoc,
    ]);
    lab.follows(&pod, inet6, &no_route, "the main route table has no ::/0");
    lab.aws_ok(&[
        "ec2",
        "associate-route-table",
        "--route-table-id",
        &rt,
        "--subnet-id",
        &subnet,
    ]);
    lab.follows(&pod, inet6, &works, "the subnet's table associated again");
}

#[test]
fn default_route_to_the_internet_gateway_lets_the_internet_reach_the_pod_and_back_to_eigw_refuses()
{
    let lab = small_lab("0");
    let (_, ip) = lab.pod_addr("web-1-1");
    let (rt, igw, eigw) = (
        lab.s("/vpc/route_table"),
        lab.s("/vpc/internet_gateway"),
        lab.s("/vpc/egress_only_gateway"),
    );
    let (inet, host) = (lab.ns("inet"), lab.s("/internet_ipv6"));
    let target = SocketAddr::new(IpAddr::V6(ip), lab::plan::POD_PORT);
    let behind_eigw = Outcome::Refused(libc::EACCES);
    lab.expect(&inet, target, &behind_eigw, "behind the EIGW");

    // The node's group must let the internet host in, as in EC2.
    lab.aws_ok(&[
        "ec2",
        "authorize-security-group-ingress",
        "--group-id",
        &lab.node_group(),
        "--ip-permissions",
        &format!("IpProtocol=tcp,FromPort=8080,ToPort=8080,Ipv6Ranges=[{{CidrIpv6={host}/128}}]"),
    ]);
    delete_default_v6(&lab, &rt);
    create_default_v6(&lab, &rt, ("--gateway-id", &igw));
    lab.follows(&inet, target, &saw("web-1-1", &host), "::/0 to the IGW");

    delete_default_v6(&lab, &rt);
    create_default_v6(&lab, &rt, ("--egress-only-internet-gateway-id", &eigw));
    lab.follows(&inet, target, &behind_eigw, "behind the EIGW again");
}

#[test]
fn revoking_the_ipv6_egress_rule_drops_pod_egress_and_authorizing_it_restores_it() {
    let lab = small_lab("0");
    let (pod, ip) = lab.pod_addr("web-1-1");
    let (inet6, inet4) = (lab.internet(true), lab.internet(false));
    let works = saw("internet", ip);
    let sg = lab.node_group();
    let eni = lab.s("/nodes/0/eni");
    let chain = lab::policy::sg::chain("out", &eni);
    let all_v6 = "IpProtocol=-1,Ipv6Ranges=[{CidrIpv6=::/0}]";
    lab.expect(&pod, inet6, &works, "before any change");

    lab.aws_ok(&[
        "ec2",
        "revoke-security-group-egress",
        "--group-id",
        &sg,
        "--ip-permissions",
        all_v6,
    ]);
    lab.follows(&pod, inet6, &Outcome::Dropped, "IPv6 egress revoked");
    let before = lab.drops("node1", &chain);
    lab.expect(&pod, inet6, &Outcome::Dropped, "still revoked");
    let after = lab.drops("node1", &chain);
    assert!(
        after > before,
        "the egress drop counted the SYN ({before} → {after})"
    );
    // IPv4 egress (0.0.0.0/0) is another rule and still allowed.
    let node_ip = lab.s("/nodes/0/public_ipv4");
    lab.expect(
        &pod,
        inet4,
        &saw("internet", &node_ip),
        "IPv4 egress allowed",
    );

    lab.aws_ok(&[
        "ec2",
        "authorize-security-group-egress",
        "--group-id",
        &sg,
        "--ip-permissions",
        all_v6,
    ]);
    lab.follows(&pod, inet6, &works, "IPv6 egress authorized again");

    // The node's interface moved to a group without IPv6 egress, then back.
    let bare = lab.aws_ok(&[
        "ec2",
        "create-security-group",
        "--group-name",
        "no-ipv6-egress",
        "--description",
        "IPv4 egress only",
        "--vpc-id",
        &lab.s("/vpc/id"),
    ])["GroupId"]
        .as_str()
        .expect("GroupId")
        .to_owned();
    lab.aws_ok(&[
        "ec2",
        "revoke-security-group-egress",
        "--group-id",
        &bare,
        "--ip-permissions",
        all_v6,
    ]);
    let set_groups = |g: &str| {
        lab.aws_ok(&[
            "ec2",
            "modify-network-interface-attribute",
            "--network-interface-id",
            &eni,
            "--groups",
            g,
        ]);
    };
    set_groups(&bare);
    lab.follows(
        &pod,
        inet6,
        &Outcome::Dropped,
        "the node in a group without IPv6 egress",
    );
    set_groups(&sg);
    lab.follows(&pod, inet6, &works, "the node back in the cluster group");
}

#[test]
fn a_pod_with_its_own_security_group_is_reachable_on_the_port_its_group_allows_and_dropped_elsewhere()
 {
    let lab = small_lab("1");
    let cluster_sg = lab.node_group();
    let sg = lab.aws_ok(&[
        "ec2",
        "create-security-group",
        "--group-name",
        "db",
        "--description",
        "pod db",
        "--vpc-id",
        &lab.s("/vpc/id"),
    ])["GroupId"]
        .as_str()
        .expect("GroupId")
        .to_owned();
    // Only members of the cluster security group, only on 8080: a group reference.
    lab.aws_ok(&[
        "ec2",
        "authorize-security-group-ingress",
        "--group-id",
        &sg,
        "--ip-permissions",
        &format!(
            "IpProtocol=tcp,FromPort=8080,ToPort=8080,UserIdGroupPairs=[{{GroupId={cluster_sg}}}]"
        ),
    ]);
    let out = sixfold(
        &[
            "pod",
            "run",
            "db",
            "--node",
            "node2",
            "--security-groups",
            &sg,
            "--name",
            &lab.name,
        ],
        UP_TIMEOUT,
    );
    assert_eq!(
        out.code, 0,
        "pod run --security-groups: {}\n{}",
        out.stdout, out.stderr
    );
    let state = lab.state();
    let db = state["pods"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| p["name"] == "db")
        .expect("pod db in the state");
    let eni = db["branch_eni"]
        .as_str()
        .expect("a branch interface")
        .to_owned();
    let (db_ns, ip) = lab.pod_addr("db");
    assert_eq!(db["security_groups"], serde_json::json!([sg]));

    // The region: a branch interface in node2's subnet with the pod's group and address.
    let e = &lab.aws_ok(&[
        "ec2",
        "describe-network-interfaces",
        "--network-interface-ids",
        &eni,
    ])["NetworkInterfaces"][0];
    assert_eq!(e["InterfaceType"], "branch", "{e}");
    assert_eq!(e["Groups"][0]["GroupId"], sg.as_str(), "{e}");
    assert_eq!(e["Ipv6Addresses"][0]["Ipv6Address"], ip.to_string(), "{e}");
    let node2 = &lab.aws_ok(&[
        "ec2",
        "describe-network-interfaces",
        "--network-interface-ids",
        &lab.s("/nodes/1/eni"),
    ])["NetworkInterfaces"][0];
    assert_eq!(e["SubnetId"], node2["SubnetId"], "in its node's subnet");

    // From a pod on node1 (its address is in node1's /80, held by a cluster-group interface).
    let (web_ns, web_ip) = lab.pod_addr("web-1-1");
    let db_at = |port| SocketAddr::new(IpAddr::V6(ip), port);
    lab.expect(
        &web_ns,
        db_at(lab::plan::POD_PORT),
        &saw("db", web_ip),
        "8080 from the cluster group",
    );
    let chain = lab::policy::sg::chain("in", &eni);
    let before = lab.drops("node2", &chain);
    lab.expect(
        &web_ns,
        db_at(lab::policy::branch::SECOND_PORT),
        &Outcome::Dropped,
        "9090 is not in the pod's group: a silent drop",
    );
    let mid = lab.drops("node2", &chain);
    assert!(
        mid > before,
        "the pod's ingress drop counted it ({before} → {mid})"
    );
    // The Fargate unit's interface is not in the cluster group: the reference does not cover it.
    let (fg_ns, fg_ip) = lab.pod_addr("fargate-1");
    lab.expect(
        &fg_ns,
        db_at(lab::plan::POD_PORT),
        &Outcome::Dropped,
        "outside the referenced group",
    );
    assert!(lab.drops("node2", &chain) > mid);
    // The node's other pod is still filtered by the node's group (which lets the VPC in).
    let (_, web2_ip) = lab.pod_addr("web-2-1");
    lab.expect(
        &fg_ns,
        SocketAddr::new(IpAddr::V6(web2_ip), lab::plan::POD_PORT),
        &saw("web-2-1", fg_ip),
        "the node's group lets the VPC in",
    );

    let out = sixfold(&["pod", "delete", "db", "--name", &lab.name], UP_TIMEOUT);
    assert_eq!(out.code, 0, "pod delete: {}", out.stderr);
    lab.aws(&[
        "ec2",
        "describe-network-interfaces",
        "--network-interface-ids",
        &eni,
    ])
    .fails_with("InvalidNetworkInterfaceID.NotFound", &eni);
    assert!(!Path::new("/run/netns").join(&db_ns).exists());
}
