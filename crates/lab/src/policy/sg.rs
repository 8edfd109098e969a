//! Security groups as nftables rulesets, one table `inet sixfold-sg` per node namespace (pure).
//!
//! The model: a security group filters traffic where it crosses the network interface that
//! carries the group. A node's primary interface is the node namespace's `eth0` (its link to the
//! VPC router): its groups filter the node's own traffic there (`input`/`output`) and its pods'
//! (`forward`, pods on the node's /80 share the primary interface, as with the VPC CNI). A pod
//! with its own groups (a branch interface) is filtered at its host-side veth instead: every
//! packet to or from it, also from the node itself and the node's other pods, passes its
//! groups, and never the node's.
//!
//! Stateful like EC2: `ct state established,related accept` first (replies and their ICMP
//! errors pass), then per interface and direction a chain of the groups' permissions (`return`
//! = allowed) ending in `counter drop` — a denied packet is dropped silently, as in EC2, so the
//! sender sees a timeout, and the drop counter of that chain counts it. Neighbour discovery
//! always passes (in EC2 it never reaches a security group). A group peer stands for every
//! address of every interface in that group, with the IPv6 prefixes delegated to them.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr};

use ipnet::{IpNet, Ipv6Net};

use super::model::{Eni, Peer, Rule, Snapshot};

/// The table every node namespace gets.
pub const TABLE: &str = "sixfold-sg";

/// The node side of a pod's link (at most 15 bytes): `sg` + the branch interface's id tail.
pub fn branch_veth(eni: &str) -> String {
    let tail: String = eni
        .trim_start_matches("eni-")
        .chars()
        .rev()
        .take(12)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    format!("sg{tail}")
}

/// The chain holding `eni`'s permissions for one direction (`in` or `out`).
pub fn chain(dir: &str, eni: &str) -> String {
    format!("{dir}_{}", eni.replace('-', "_"))
}

/// Addresses of every interface in group `g`, (IPv4, IPv6 as CIDRs without overlaps).
fn members(snap: &Snapshot, g: &str) -> (Vec<Ipv4Addr>, Vec<Ipv6Net>) {
    let mut v4 = BTreeSet::new();
    let mut v6: BTreeSet<Ipv6Net> = BTreeSet::new();
    for e in snap.enis.iter().filter(|e| e.groups.iter().any(|x| x == g)) {
        v4.extend(e.ipv4.iter().copied());
        v6.extend(e.prefixes.iter().map(|p| p.trunc()));
        v6.extend(e.ipv6.iter().map(|a| Ipv6Net::from(*a)));
    }
    let all: Vec<Ipv6Net> = v6.iter().copied().collect();
    let v6 = v6
        .into_iter()
        .filter(|n| !all.iter().any(|o| o != n && o.contains(n)))
        .collect();
    (v4.into_iter().collect(), v6)
}

fn set<T: std::fmt::Display>(items: &[T]) -> String {
    let v: Vec<String> = items.iter().map(ToString::to_string).collect();
    format!("{{ {} }}", v.join(", "))
}

/// The peer matches of one rule (one per address family it covers; none if the group is empty).
fn peers(snap: &Snapshot, r: &Rule) -> Vec<String> {
    let dir = if r.egress { "daddr" } else { "saddr" };
    match &r.peer {
        Peer::Cidr(IpNet::V4(n)) if n.prefix_len() == 0 => vec!["meta nfproto ipv4".into()],
        Peer::Cidr(IpNet::V6(n)) if n.prefix_len() == 0 => vec!["meta nfproto ipv6".into()],
        Peer::Cidr(IpNet::V4(n)) => vec![format!("ip {dir} {}", n.trunc())],
        Peer::Cidr(IpNet::V6(n)) => vec![format!("ip6 {dir} {}", n.trunc())],
        Peer::Group(g) => {
            let (v4, v6) = members(snap, g);
            let mut out = Vec::new();
            if !v4.is_empty() {
                out.push(format!("ip {dir} {}", set(&v4)));
            }
            if !v6.is_empty() {
                out.push(format!("ip6 {dir} {}", set(&v6)));
            }
            out
        }
    }
}

fn ports(proto: &str, r: &Rule) -> String {
    match (r.from_port, r.to_port) {
        (None, _) | (Some(-1), _) => format!("meta l4proto {proto}"),
        (Some(0), Some(65535)) => format!("meta l4proto {proto}"),
        (Some(a), Some(b)) if a != b && b >= 0 => format!("{proto} dport {a}-{b}"),
        (Some(a), _) => format!("{proto} dport {a}"),
    }
}

fn icmp(l4: &str, kw: &str, r: &Rule) -> String {
    let mut s = format!("meta l4proto {l4}");
    if let Some(t) = r.from_port.filter(|t| (0..=255).contains(t)) {
        s.push_str(&format!(" {kw} type {t}"));
        if let Some(c) = r.to_port.filter(|c| (0..=255).contains(c)) {
            s.push_str(&format!(" {kw} code {c}"));
        }
    }
    s
}

/// The protocol match of one rule (empty for all protocols).
fn protocol(r: &Rule) -> String {
    match r.protocol.as_str() {
        "-1" => String::new(),
        "tcp" | "6" => ports("tcp", r),
        "udp" | "17" => ports("udp", r),
        "icmp" | "1" => icmp("icmp", "icmp", r),
        "icmpv6" | "58" => icmp("ipv6-icmp", "icmpv6", r),
        n => match n.parse::<u8>() {
            Ok(n) => format!("meta l4proto {n}"),
            // The region only stores the names above or numbers; anything else allows nothing.
            Err(_) => "meta l4proto 255 meta l4proto 0".into(),
        },
    }
}

/// The chain of `eni`'s permissions in one direction.
fn eni_chain(snap: &Snapshot, eni: &Eni, egress: bool, out: &mut String) {
    let dir = if egress { "out" } else { "in" };
    out.push_str(&format!("\tchain {} {{\n", chain(dir, &eni.id)));
    let mut seen = BTreeSet::new();
    for g in &eni.groups {
        let Some(sg) = snap.group(g) else { continue };
        for r in sg.rules.iter().filter(|r| r.egress == egress) {
            let proto = protocol(r);
            for peer in peers(snap, r) {
                let line = format!("{peer} {proto}").trim().to_owned();
                if seen.insert(line.clone()) {
                    out.push_str(&format!("\t\t{line} return\n"));
                }
            }
        }
    }
    out.push_str(&format!(
        "\t\tcounter drop comment \"security groups of {} deny {}\"\n\t}}\n",
        eni.id,
        if egress { "egress" } else { "ingress" }
    ));
}

const ND: &str = "\t\ticmpv6 type { nd-router-solicit, nd-router-advert, nd-neighbor-solicit, nd-neighbor-advert } accept\n";
const CT: &str = "\t\tct state established,related accept\n";

/// The `nft -f` script that replaces the table of a node whose primary interface is `primary`
/// (its link to the VPC is `uplink`) with branch interfaces `branches` (interface id, host-side
/// veth). One transaction: the table is never seen half-built.
pub fn ruleset(
    snap: &Snapshot,
    primary: &Eni,
    uplink: &str,
    branches: &[(&Eni, String)],
) -> String {
    let mut s = format!("table inet {TABLE}\ndelete table inet {TABLE}\ntable inet {TABLE} {{\n");
    eni_chain(snap, primary, false, &mut s);
    eni_chain(snap, primary, true, &mut s);
    for (b, _) in branches {
        eni_chain(snap, b, false, &mut s);
        eni_chain(snap, b, true, &mut s);
    }
    let veths: Vec<&str> = branches.iter().map(|(_, v)| v.as_str()).collect();
    let not_branch = |dir: &str| {
        if veths.is_empty() {
            String::new()
        } else {
            let q: Vec<String> = veths.iter().map(|v| format!("\"{v}\"")).collect();
            format!(" {dir} != {}", set(&q))
        }
    };
    let hook = |name: &str, body: String| {
        format!(
            "\tchain {name} {{\n\t\ttype filter hook {name} priority filter; policy accept;\n{CT}{ND}{body}\t}}\n"
        )
    };
    let (pin, pout) = (chain("in", &primary.id), chain("out", &primary.id));
    let mut input = format!("\t\tiifname \"{uplink}\" jump {pin}\n");
    let mut output = format!("\t\toifname \"{uplink}\" jump {pout}\n");
    let mut forward = String::new();
    for (b, v) in branches {
        let (bin, bout) = (chain("in", &b.id), chain("out", &b.id));
        input.push_str(&format!("\t\tiifname \"{v}\" jump {bout}\n"));
        output.push_str(&format!("\t\toifname \"{v}\" jump {bin}\n"));
        forward.push_str(&format!(
            "\t\tiifname \"{v}\" jump {bout}\n\t\toifname \"{v}\" jump {bin}\n"
        ));
    }
    forward.push_str(&format!(
        "\t\tiifname \"{uplink}\"{} jump {pin}\n\t\toifname \"{uplink}\"{} jump {pout}\n",
        not_branch("oifname"),
        not_branch("iifname"),
    ));
    s.push_str(&hook("input", input));
    s.push_str(&hook("output", output));
    s.push_str(&hook("forward", forward));
    s.push_str("}\n");
    s
}

/// Whether `a` is an address of some interface in group `g` (for reports and tests).
pub fn in_group(snap: &Snapshot, g: &str, a: IpAddr) -> bool {
    snap.enis
        .iter()
        .any(|e| e.groups.iter().any(|x| x == g) && e.holds(a))
}

#[cfg(test)]
mod tests {
    use super::super::model::SecurityGroup;
    use super::*;

    fn rule(egress: bool, proto: &str, ports: Option<(i32, i32)>, peer: Peer) -> Rule {
        Rule {
            egress,
            protocol: proto.into(),
            from_port: ports.map(|p| p.0),
            to_port: ports.map(|p| p.1),
            peer,
        }
    }

    fn snap() -> Snapshot {
        let cidr = |s: &str| Peer::Cidr(s.parse().unwrap());
        Snapshot {
            groups: vec![
                SecurityGroup {
                    id: "sg-node".into(),
                    rules: vec![
                        rule(false, "-1", None, Peer::Group("sg-node".into())),
                        rule(true, "-1", None, cidr("0.0.0.0/0")),
                        rule(true, "-1", None, cidr("::/0")),
                    ],
                },
                SecurityGroup {
                    id: "sg-pod".into(),
                    rules: vec![
                        rule(
                            false,
                            "tcp",
                            Some((8080, 8080)),
                            Peer::Group("sg-node".into()),
                        ),
                        rule(false, "icmpv6", Some((128, -1)), cidr("2001:db8::/32")),
                        rule(true, "udp", Some((53, 53)), cidr("fd00::/8")),
                    ],
                },
            ],
            enis: vec![
                Eni {
                    id: "eni-0aaa".into(),
                    subnet: "subnet-1".into(),
                    kind: "interface".into(),
                    groups: vec!["sg-node".into()],
                    ipv4: vec!["10.0.0.10".parse().unwrap()],
                    ipv6: vec!["2001:db8:0:1::10".parse().unwrap()],
                    prefixes: vec!["2001:db8:0:1:1::/80".parse().unwrap()],
                },
                Eni {
                    id: "eni-0bbb".into(),
                    subnet: "subnet-1".into(),
                    kind: "branch".into(),
                    groups: vec!["sg-pod".into()],
                    ipv4: vec![],
                    ipv6: vec!["2001:db8:0:1::20".parse().unwrap()],
                    prefixes: vec![],
                },
            ],
            ..Default::default()
        }
    }

    #[test]
    fn group_references_cover_addresses_and_delegated_prefixes() {
        let s = snap();
        let r = ruleset(&s, &s.enis[0], "eth0", &[]);
        assert!(
            r.contains("ip6 saddr { 2001:db8:0:1::10/128, 2001:db8:0:1:1::/80 } return"),
            "{r}"
        );
        assert!(r.contains("ip saddr { 10.0.0.10 } return"), "{r}");
        assert!(in_group(
            &s,
            "sg-node",
            "2001:db8:0:1:1::7".parse().unwrap()
        ));
        assert!(!in_group(
            &s,
            "sg-node",
            "2001:db8:0:1::20".parse().unwrap()
        ));
    }

    #[test]
    fn egress_without_ipv6_rule_ends_in_the_counted_drop() {
        let mut s = snap();
        s.groups[0]
            .rules
            .retain(|r| r.peer != Peer::Cidr("::/0".parse().unwrap()));
        let r = ruleset(&s, &s.enis[0], "eth0", &[]);
        let out: Vec<&str> = r
            .split("chain out_eni_0aaa {")
            .nth(1)
            .unwrap()
            .split('}')
            .next()
            .unwrap()
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        assert_eq!(
            out,
            [
                "meta nfproto ipv4 return",
                "counter drop comment \"security groups of eni-0aaa deny egress\""
            ]
        );
    }

    #[test]
    fn branch_pods_are_filtered_by_their_own_groups_not_the_nodes() {
        let s = snap();
        let v = branch_veth("eni-0bbb");
        let r = ruleset(&s, &s.enis[0], "eth0", &[(&s.enis[1], v.clone())]);
        assert!(
            r.contains(
                "ip6 saddr { 2001:db8:0:1::10/128, 2001:db8:0:1:1::/80 } tcp dport 8080 return"
            ),
            "{r}"
        );
        assert!(
            r.contains("meta l4proto ipv6-icmp icmpv6 type 128 return"),
            "{r}"
        );
        assert!(r.contains("ip6 daddr fd00::/8 udp dport 53 return"), "{r}");
        assert!(
            r.contains(&format!("oifname \"{v}\" jump in_eni_0bbb")),
            "{r}"
        );
        assert!(
            r.contains(&format!(
                "iifname \"eth0\" oifname != {{ \"{v}\" }} jump in_eni_0aaa"
            )),
            "{r}"
        );
        assert!(r.starts_with("table inet sixfold-sg\ndelete table inet sixfold-sg\n"));
        assert!(v.len() <= 15 && v.starts_with("sg"));
    }

    #[test]
    fn port_ranges_and_protocol_numbers() {
        let p = Peer::Cidr("10.0.0.0/8".parse().unwrap());
        assert_eq!(
            protocol(&rule(false, "tcp", Some((80, 90)), p.clone())),
            "tcp dport 80-90"
        );
        assert_eq!(
            protocol(&rule(false, "udp", Some((0, 65535)), p.clone())),
            "meta l4proto udp"
        );
        assert_eq!(
            protocol(&rule(false, "47", None, p.clone())),
            "meta l4proto 47"
        );
        assert_eq!(
            protocol(&rule(false, "icmp", Some((-1, -1)), p)),
            "meta l4proto icmp"
        );
    }
}
