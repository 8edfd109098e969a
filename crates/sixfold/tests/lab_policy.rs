//! End-to-end tests (root) of route tables and security groups enforced on the lab's packets,
//! each driven by the real AWS CLI against the lab's own region and proven both ways: the
//! `::/0` route deleted (the pod's IPv6 internet traffic gets the router's ICMPv6 "no route",
//! ENETUNREACH) and restored; `::/0` to the internet gateway (the internet reaches the pod once
//! its group allows it) and back to the egress-only gateway (refused there, EACCES); the IPv6
//! egress rule revoked (a silent drop: a timeout, with the drop counter of the node's egress
//! chain increased) and authorized again; a pod with its own security group (a branch
//! interface) reachable on the port its group allows a group reference on, dropped on another
//! port and from outside the referenced group. Each test brings up a small lab with a unique
//! name and removes it in a drop guard.

mod common;

use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::Value;

const UP_TIMEOUT: Duration = Duration::from_secs(180);
const CMD_TIMEOUT: Duration = Duration::from_secs(60);
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

fn require_root() {
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    assert_eq!(
        euid, 0,
        "these tests need root: `sixfold up` creates network namespaces; run the suite as root"
    );
}

fn sixfold_bin() -> &'static str {
    env!("CARGO_BIN_EXE_sixfold")
}

fn sixfold(args: &[&str]) -> common::Cli {
    let mut c = Command::new(sixfold_bin());
    c.args(args);
    common::run(c, UP_TIMEOUT)
}

/// A lab named uniquely per test, removed on drop.
struct Lab {
    name: String,
    state: Value,
}

impl Lab {
    fn up(extra: &[&str]) -> Lab {
        require_root();
        static N: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "p{}x{}",
            std::process::id() % 100_000,
            N.fetch_add(1, Ordering::SeqCst)
        );
        let mut args = vec!["up", "--name", &name, "--services", "0"];
        args.extend_from_slice(extra);
        let out = sixfold(&args);
        let mut lab = Lab {
            name,
            state: Value::Null,
        };
        assert_eq!(
            out.code, 0,
            "sixfold up failed:\n{}\n{}",
            out.stdout, out.stderr
        );
        lab.reload();
        lab
    }
    fn dir(&self) -> PathBuf {
        Path::new("/run/sixfold-lab").join(&self.name)
    }
    fn reload(&mut self) {
        let text = std::fs::read(self.dir().join("lab.json")).expect("state file");
        self.state = serde_json::from_slice(&text).expect("state is JSON");
    }
    fn s(&self, ptr: &str) -> String {
        self.state
            .pointer(ptr)
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("{ptr} missing in the lab state"))
            .to_owned()
    }
    fn ns(&self, role: &str) -> String {
        format!("sfl-{}-{role}", self.name)
    }
    /// The real AWS CLI against the lab's region.
    fn aws(&self, args: &[&str]) -> common::Cli {
        let mut cmd = Command::new(common::aws_binary());
        cmd.args([
            "--profile",
            "sixfold",
            "--region",
            "us-east-1",
            "--endpoint-url",
            &self.s("/region/endpoint"),
            "--output",
            "json",
        ])
        .args(args)
        .env("AWS_SHARED_CREDENTIALS_FILE", self.s("/region/credentials"))
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_PAGER", "")
        .env("AWS_MAX_ATTEMPTS", "1");
        common::run(cmd, CMD_TIMEOUT)
    }
    fn aws_ok(&self, args: &[&str]) -> Value {
        self.aws(args).json()
    }
    /// Bring the dataplane to what the region says.
    fn converge(&self) {
        let out = sixfold(&["lab-policy", "--name", &self.name]);
        assert_eq!(out.code, 0, "lab-policy failed: {}", out.stderr);
    }
    fn pod(&self, i: usize) -> (String, Ipv6Addr) {
        let p = &self.state["pods"][i];
        (
            p["netns"].as_str().unwrap().to_owned(),
            p["ipv6"].as_str().unwrap().parse().unwrap(),
        )
    }
    fn internet_v6(&self) -> SocketAddr {
        SocketAddr::new(
            self.s("/internet_ipv6").parse().unwrap(),
            lab::plan::INTERNET_PORT,
        )
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
        g[0]["GroupId"].as_str().unwrap().to_owned()
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
        let v: Value = serde_json::from_str(&out.stdout).unwrap();
        let rules: Vec<&Value> = v["nftables"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|o| o.get("rule"))
            .filter(|r| {
                r["expr"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|e| e.get("drop").is_some())
            })
            .collect();
        assert_eq!(rules.len(), 1, "one drop rule in {chain}: {v}");
        rules[0]["expr"]
            .as_array()
            .unwrap()
            .iter()
            .find_map(|e| e.pointer("/counter/packets").and_then(Value::as_u64))
            .unwrap_or_else(|| panic!("the drop rule of {chain} has no counter: {v}"))
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = sixfold(&["down", "--name", &self.name]);
    }
}

/// One connection attempt from namespace `ns` to `to` that reads the responder's line.
fn connect(ns: &str, to: SocketAddr) -> std::io::Result<String> {
    let h = dataplane::netns::NetNs::by_name(ns).expect("the namespace exists");
    h.run(move || lab::probe::try_tcp_line(to, PROBE_TIMEOUT))
        .expect("entering the namespace")
}

fn errno(r: &std::io::Result<String>) -> Option<i32> {
    r.as_ref().err().and_then(|e| e.raw_os_error())
}

fn timed_out(r: &std::io::Result<String>) -> bool {
    r.as_ref().is_err_and(|e| {
        e.kind() == std::io::ErrorKind::TimedOut || e.kind() == std::io::ErrorKind::WouldBlock
    })
}

#[test]
fn pod_ipv6_internet_traffic_gets_no_route_without_the_default_route_and_works_once_restored() {
    let lab = Lab::up(&[
        "--nodes",
        "2",
        "--pods-per-node",
        "1",
        "--fargate-pods",
        "0",
    ]);
    let (pod, ip) = lab.pod(0);
    let rt = lab.s("/vpc/route_table");
    let eigw = lab.s("/vpc/egress_only_gateway");
    let ok = connect(&pod, lab.internet_v6());
    assert_eq!(
        ok.as_ref().ok(),
        Some(&format!("internet saw {ip}")),
        "{ok:?}"
    );

    lab.aws_ok(&[
        "ec2",
        "delete-route",
        "--route-table-id",
        &rt,
        "--destination-ipv6-cidr-block",
        "::/0",
    ]);
    lab.converge();
    let r = connect(&pod, lab.internet_v6());
    assert_eq!(
        errno(&r),
        Some(libc::ENETUNREACH),
        "without ::/0 the router answers ICMPv6 no-route: {r:?}"
    );
    // The subnet's IPv4 default route is untouched.
    let v4 = SocketAddr::new(
        lab.s("/internet_ipv4").parse().unwrap(),
        lab::plan::INTERNET_PORT,
    );
    assert!(
        connect(&pod, v4).is_ok(),
        "IPv4 to the internet still works"
    );

    lab.aws_ok(&[
        "ec2",
        "create-route",
        "--route-table-id",
        &rt,
        "--destination-ipv6-cidr-block",
        "::/0",
        "--egress-only-internet-gateway-id",
        &eigw,
    ]);
    lab.converge();
    let r = connect(&pod, lab.internet_v6());
    assert_eq!(
        r.as_ref().ok(),
        Some(&format!("internet saw {ip}")),
        "{r:?}"
    );
}

#[test]
fn default_route_to_the_internet_gateway_lets_the_internet_reach_the_pod_and_back_to_eigw_refuses()
{
    let lab = Lab::up(&[
        "--nodes",
        "2",
        "--pods-per-node",
        "1",
        "--fargate-pods",
        "0",
    ]);
    let (_, ip) = lab.pod(0);
    let (rt, igw, eigw) = (
        lab.s("/vpc/route_table"),
        lab.s("/vpc/internet_gateway"),
        lab.s("/vpc/egress_only_gateway"),
    );
    let inet = lab.ns("inet");
    let target = SocketAddr::new(IpAddr::V6(ip), lab::plan::POD_PORT);
    let refused = connect(&inet, target);
    assert_eq!(
        errno(&refused),
        Some(libc::EACCES),
        "behind the EIGW: {refused:?}"
    );

    // The node's group must let the internet host in, as in EC2.
    let sg = lab.node_group();
    lab.aws_ok(&[
        "ec2",
        "authorize-security-group-ingress",
        "--group-id",
        &sg,
        "--ip-permissions",
        &format!(
            "IpProtocol=tcp,FromPort=8080,ToPort=8080,Ipv6Ranges=[{{CidrIpv6={}/128}}]",
            lab.s("/internet_ipv6")
        ),
    ]);
    lab.aws_ok(&[
        "ec2",
        "delete-route",
        "--route-table-id",
        &rt,
        "--destination-ipv6-cidr-block",
        "::/0",
    ]);
    lab.aws_ok(&[
        "ec2",
        "create-route",
        "--route-table-id",
        &rt,
        "--destination-ipv6-cidr-block",
        "::/0",
        "--gateway-id",
        &igw,
    ]);
    lab.converge();
    let r = connect(&inet, target);
    let host = lab.s("/internet_ipv6");
    assert_eq!(
        r.as_ref().ok(),
        Some(&format!("{} saw {host}", lab.s("/pods/0/name"))),
        "{r:?}"
    );

    lab.aws_ok(&[
        "ec2",
        "delete-route",
        "--route-table-id",
        &rt,
        "--destination-ipv6-cidr-block",
        "::/0",
    ]);
    lab.aws_ok(&[
        "ec2",
        "create-route",
        "--route-table-id",
        &rt,
        "--destination-ipv6-cidr-block",
        "::/0",
        "--egress-only-internet-gateway-id",
        &eigw,
    ]);
    lab.converge();
    let r = connect(&inet, target);
    assert_eq!(
        errno(&r),
        Some(libc::EACCES),
        "behind the EIGW again: {r:?}"
    );
}

#[test]
fn revoking_the_ipv6_egress_rule_drops_pod_egress_and_authorizing_it_restores_it() {
    let lab = Lab::up(&[
        "--nodes",
        "2",
        "--pods-per-node",
        "1",
        "--fargate-pods",
        "0",
    ]);
    let (pod, ip) = lab.pod(0);
    let sg = lab.node_group();
    let chain = lab::policy::sg::chain("out", &lab.s("/nodes/0/eni"));
    let all_v6 = "IpProtocol=-1,Ipv6Ranges=[{CidrIpv6=::/0}]";

    lab.aws_ok(&[
        "ec2",
        "revoke-security-group-egress",
        "--group-id",
        &sg,
        "--ip-permissions",
        all_v6,
    ]);
    lab.converge();
    let before = lab.drops("node1", &chain);
    let r = connect(&pod, lab.internet_v6());
    assert!(timed_out(&r), "a security group drops silently: {r:?}");
    let after = lab.drops("node1", &chain);
    assert!(
        after > before,
        "the egress drop counted the SYN ({before} → {after})"
    );
    // IPv4 egress (0.0.0.0/0) is another rule and still allowed.
    let v4 = SocketAddr::new(
        lab.s("/internet_ipv4").parse().unwrap(),
        lab::plan::INTERNET_PORT,
    );
    assert!(connect(&pod, v4).is_ok(), "IPv4 egress still allowed");

    lab.aws_ok(&[
        "ec2",
        "authorize-security-group-egress",
        "--group-id",
        &sg,
        "--ip-permissions",
        all_v6,
    ]);
    lab.converge();
    let r = connect(&pod, lab.internet_v6());
    assert_eq!(
        r.as_ref().ok(),
        Some(&format!("internet saw {ip}")),
        "{r:?}"
    );
}

impl Lab {
    fn pod_named(&self, name: &str) -> Value {
        self.state["pods"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("no pod {name} in the state"))
            .clone()
    }
}

#[test]
fn a_pod_with_its_own_security_group_is_reachable_on_the_port_its_group_allows_and_dropped_elsewhere()
 {
    let mut lab = Lab::up(&[
        "--nodes",
        "2",
        "--pods-per-node",
        "1",
        "--fargate-pods",
        "1",
    ]);
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
        .unwrap()
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
    let out = sixfold(&[
        "pod",
        "run",
        "db",
        "--node",
        "node2",
        "--security-groups",
        &sg,
        "--name",
        &lab.name,
    ]);
    assert_eq!(
        out.code, 0,
        "pod run --security-groups: {}\n{}",
        out.stdout, out.stderr
    );
    lab.reload();
    let db = lab.pod_named("db");
    let eni = db["branch_eni"]
        .as_str()
        .expect("a branch interface")
        .to_owned();
    let ip: Ipv6Addr = db["ipv6"].as_str().unwrap().parse().unwrap();
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
    let web = lab.pod_named("web-1-1");
    let (web_ns, web_ip) = (
        web["netns"].as_str().unwrap(),
        web["ipv6"].as_str().unwrap(),
    );
    let r = connect(web_ns, SocketAddr::new(IpAddr::V6(ip), lab::plan::POD_PORT));
    assert_eq!(r.as_ref().ok(), Some(&format!("db saw {web_ip}")), "{r:?}");
    let chain = lab::policy::sg::chain("in", &eni);
    let before = lab.drops("node2", &chain);
    let r = connect(
        web_ns,
        SocketAddr::new(IpAddr::V6(ip), lab::policy::branch::SECOND_PORT),
    );
    assert!(
        timed_out(&r),
        "9090 is not in the pod's group: a silent drop: {r:?}"
    );
    let mid = lab.drops("node2", &chain);
    assert!(
        mid > before,
        "the pod's ingress drop counted it ({before} → {mid})"
    );
    // The Fargate unit's interface is not in the cluster group: the reference does not cover it.
    let fg = lab.pod_named("fargate-1");
    let r = connect(
        fg["netns"].as_str().unwrap(),
        SocketAddr::new(IpAddr::V6(ip), lab::plan::POD_PORT),
    );
    assert!(timed_out(&r), "outside the referenced group: {r:?}");
    assert!(lab.drops("node2", &chain) > mid);
    // The node's other pod is still filtered by the node's group (which lets the VPC in).
    let web2 = lab.pod_named("web-2-1");
    let r = connect(
        fg["netns"].as_str().unwrap(),
        SocketAddr::new(
            web2["ipv6"].as_str().unwrap().parse().unwrap(),
            lab::plan::POD_PORT,
        ),
    );
    assert!(r.is_ok(), "{r:?}");

    let out = sixfold(&["pod", "delete", "db", "--name", &lab.name]);
    assert_eq!(out.code, 0, "pod delete: {}", out.stderr);
    lab.aws(&[
        "ec2",
        "describe-network-interfaces",
        "--network-interface-ids",
        &eni,
    ])
    .fails_with("InvalidNetworkInterfaceID.NotFound", &eni);
    assert!(
        !Path::new("/run/netns")
            .join(db["netns"].as_str().unwrap())
            .exists()
    );
}
