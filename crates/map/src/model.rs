//! The address plan as plain data: what the map draws. Built by [`crate::build`], drawn by
//! [`mod@crate::render`]. Every list is kept in address order by the builder, so the drawing and the
//! text tables agree.

use std::net::{Ipv4Addr, Ipv6Addr};

use ipnet::{Ipv4Net, Ipv6Net};

/// Everything one map shows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Plan {
    /// What is drawn: `lab mapdev1` or `region http://127.0.0.1:4570`.
    pub title: String,
    /// The VPCs, by id.
    pub vpcs: Vec<Vpc>,
    /// The EKS clusters (with their service /108 and services).
    pub clusters: Vec<Cluster>,
    /// Health issues and preflight findings, each on the resources at fault.
    pub findings: Vec<Finding>,
    /// A lab's proven paths (empty for a bare region).
    pub paths: Vec<PathResult>,
    /// The lab's "internet" hosts (IPv4, IPv6), when drawing a lab.
    pub internet: Option<(Ipv4Addr, Ipv6Addr)>,
}

/// One VPC.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Vpc {
    pub id: String,
    pub ipv4: Vec<Ipv4Net>,
    /// The IPv6 blocks (a /56 each when Amazon-provided).
    pub ipv6: Vec<Ipv6Net>,
    /// Subnets, in address order of their IPv6 /64 (subnets without one last).
    pub subnets: Vec<Subnet>,
    pub gateways: Vec<Gateway>,
    pub route_tables: Vec<RouteTable>,
    /// Security groups `(id, name)`.
    pub security_groups: Vec<(String, String)>,
}

/// One subnet and what lives in it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Subnet {
    pub id: String,
    pub zone: String,
    pub ipv4: Option<Ipv4Net>,
    /// The subnet's /64.
    pub ipv6: Option<Ipv6Net>,
    /// `assignIpv6AddressOnCreation` (nodes cannot launch without it in an IPv6 cluster).
    pub assign_ipv6: bool,
    /// The route table that applies (its own association, else the VPC's main table).
    pub route_table: Option<String>,
    /// EC2 nodes, in address order of their /80.
    pub nodes: Vec<Node>,
    /// Fargate pods: a /128 straight from the subnet.
    pub fargate: Vec<Pod>,
}

/// One EC2 instance (a node when it has a delegated /80).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Node {
    /// The lab's node name, else the instance id.
    pub name: String,
    pub instance_id: String,
    pub instance_type: Option<String>,
    pub state: Option<String>,
    /// The primary ENI.
    pub eni: Option<String>,
    pub ipv4: Option<Ipv4Addr>,
    /// The public IPv4 the internet gateway translates the node's IPv4 to (lab only).
    pub public_ipv4: Option<Ipv4Addr>,
    pub ipv6: Option<Ipv6Addr>,
    /// Delegated prefixes (one /80 per node under prefix delegation).
    pub prefixes: Vec<Ipv6Net>,
    /// Pods, in address order.
    pub pods: Vec<Pod>,
}

/// One pod.
#[derive(Debug, Clone, PartialEq)]
pub struct Pod {
    pub name: String,
    pub namespace: String,
    pub ipv6: Ipv6Addr,
    /// The node-local egress IPv4 (from 169.254.172.0/22) or, on Fargate, the unit's own IPv4.
    pub ipv4: Option<Ipv4Addr>,
    pub fargate: bool,
}

/// One EKS cluster.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Cluster {
    pub name: String,
    pub status: String,
    /// `ipv4` or `ipv6`.
    pub ip_family: String,
    /// The service /108 (unique-local), chosen by the service.
    pub service_cidr: Option<Ipv6Net>,
    /// Cluster DNS: the /108 with last hextet `a`.
    pub dns: Option<Ipv6Addr>,
    pub vpc_id: Option<String>,
    pub subnet_ids: Vec<String>,
    pub nodegroups: Vec<String>,
    /// Services, in ClusterIP order.
    pub services: Vec<Service>,
}

/// One Kubernetes service.
#[derive(Debug, Clone, PartialEq)]
pub struct Service {
    pub name: String,
    pub namespace: String,
    pub cluster_ip: Ipv6Addr,
    pub port: u16,
    pub target_port: u16,
    pub dns_name: String,
    /// Pod names.
    pub backends: Vec<String>,
}

/// What kind of gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GatewayKind {
    /// Internet gateway: IPv4 (translated to a public IPv4) and IPv6 both ways.
    Internet,
    /// Egress-only internet gateway: IPv6 out (and replies), nothing unsolicited in.
    EgressOnly,
}

/// A gateway and the routes that send traffic to it.
#[derive(Debug, Clone, PartialEq)]
pub struct Gateway {
    pub id: String,
    pub kind: GatewayKind,
    /// `(route table, destination)` of every route targeting it.
    pub routes: Vec<(String, String)>,
}

/// A route table.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RouteTable {
    pub id: String,
    pub main: bool,
    /// Explicitly associated subnets.
    pub subnets: Vec<String>,
    pub routes: Vec<Route>,
}

/// One route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub destination: String,
    /// `local`, `igw-...`, `eigw-...`.
    pub target: String,
}

/// A health issue or preflight finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// `SIX-...`.
    pub id: String,
    /// botocore's issue code.
    pub code: String,
    /// What is wrong (the message up to `Fix:`).
    pub what: String,
    /// How to fix it (after `Fix:`), when the message says.
    pub fix: Option<String>,
    /// The resources at fault.
    pub resource_ids: Vec<String>,
    /// The cluster it was reported for.
    pub cluster: String,
}

/// One path a lab proved (or failed to).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathResult {
    pub path: String,
    pub from: String,
    pub to: String,
    pub ok: bool,
    pub seen: String,
}

impl Plan {
    /// The findings on resource `id`.
    pub fn findings_on<'a>(&'a self, id: &'a str) -> impl Iterator<Item = &'a Finding> + 'a {
        self.findings
            .iter()
            .filter(move |f| f.resource_ids.iter().any(|r| r == id))
    }

    /// Every resource id drawn as its own box (findings on others go to their cluster).
    pub fn drawn_ids(&self) -> Vec<&str> {
        let mut out = Vec::new();
        for v in &self.vpcs {
            out.push(v.id.as_str());
            out.extend(v.gateways.iter().map(|g| g.id.as_str()));
            out.extend(v.route_tables.iter().map(|r| r.id.as_str()));
            out.extend(v.security_groups.iter().map(|g| g.0.as_str()));
            for s in &v.subnets {
                out.push(s.id.as_str());
                for n in &s.nodes {
                    out.push(n.instance_id.as_str());
                    out.extend(n.eni.as_deref());
                }
            }
        }
        out.extend(self.clusters.iter().map(|c| c.name.as_str()));
        out
    }

    /// Number of nodes and pods drawn.
    pub fn counts(&self) -> (usize, usize) {
        let mut nodes = 0;
        let mut pods = 0;
        for s in self.vpcs.iter().flat_map(|v| &v.subnets) {
            nodes += s.nodes.len();
            pods += s.fargate.len() + s.nodes.iter().map(|n| n.pods.len()).sum::<usize>();
        }
        (nodes, pods)
    }
}

impl Finding {
    /// A finding from an EKS health issue's parts; the id is the message's `[SIX-...]`
    /// prefix as `sixfold preflight` reads it, the fix what follows `Fix:`.
    pub fn from_issue(
        id: &str,
        code: &str,
        message: &str,
        resource_ids: Vec<String>,
        cluster: &str,
    ) -> Finding {
        let body = message
            .strip_prefix(&format!("[{id}]"))
            .unwrap_or(message)
            .trim();
        let (what, fix) = match body.split_once("Fix:") {
            Some((w, f)) => (w.trim().to_owned(), Some(f.trim().to_owned())),
            None => (body.to_owned(), None),
        };
        Finding {
            id: id.to_owned(),
            code: code.to_owned(),
            what,
            fix,
            resource_ids,
            cluster: cluster.to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_finding_splits_what_from_fix() {
        let f = Finding::from_issue(
            "SIX-SG-IPV6",
            "ConfigurationConflict",
            "[SIX-SG-IPV6] Security group sg-1 allows no IPv6. Fix: authorize ::/0.",
            vec!["sg-1".into()],
            "c",
        );
        assert_eq!(f.what, "Security group sg-1 allows no IPv6.");
        assert_eq!(f.fix.as_deref(), Some("authorize ::/0."));
        let g = Finding::from_issue("X", "c", "no fix here", vec![], "c");
        assert_eq!((g.what.as_str(), g.fix), ("no fix here", None));
    }
}
