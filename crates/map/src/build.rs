//! Build a [`Plan`] from what the region's APIs answered (EC2 Query replies as parsed XML, EKS
//! `DescribeCluster` objects as JSON) and overlay a lab's state (node names, pods, services,
//! proven paths). Pure: the replies are read by the caller.

use std::net::{Ipv4Addr, Ipv6Addr};

use ec2_client::Instance;
use ec2_client::xml::Element;
use ipnet::{Ipv4Net, Ipv6Net};
use lab::state::LabState;
use serde_json::Value;

use crate::model::*;

/// A reply the map cannot read.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// A field that must be an address or CIDR is not one.
    #[error(
        "{what} {value:?} in the region's reply is not a valid {kind}; is the endpoint an EC2/EKS API?"
    )]
    BadValue {
        what: &'static str,
        value: String,
        kind: &'static str,
    },
}

/// The region's answers the map is drawn from.
#[derive(Debug, Clone, Default)]
pub struct RegionReplies {
    /// `DescribeVpcs` (the reply's root element).
    pub vpcs: Element,
    /// `DescribeSubnets`.
    pub subnets: Element,
    /// `DescribeRouteTables`.
    pub route_tables: Element,
    /// `DescribeInternetGateways`.
    pub internet_gateways: Element,
    /// `DescribeEgressOnlyInternetGateways`.
    pub egress_only_gateways: Element,
    /// `DescribeSecurityGroups`.
    pub security_groups: Element,
    /// `DescribeInstances`, all pages.
    pub instances: Vec<Instance>,
    /// EKS `DescribeCluster` answers (the `cluster` objects).
    pub clusters: Vec<Value>,
    /// `(cluster, node group)` from `ListNodegroups`.
    pub nodegroups: Vec<(String, String)>,
    /// Health issues / preflight findings, already read from the clusters.
    pub findings: Vec<Finding>,
}

fn v6net(what: &'static str, s: &str) -> Result<Ipv6Net, BuildError> {
    s.parse().map_err(|_| BuildError::BadValue {
        what,
        value: s.to_owned(),
        kind: "IPv6 CIDR",
    })
}

fn v4net(what: &'static str, s: &str) -> Result<Ipv4Net, BuildError> {
    s.parse().map_err(|_| BuildError::BadValue {
        what,
        value: s.to_owned(),
        kind: "IPv4 CIDR",
    })
}

fn text(e: &Element, name: &str) -> String {
    e.child_text(name).unwrap_or_default().to_owned()
}

/// The `item`s of `root`'s list `set`.
fn items<'a>(root: &'a Element, set: &str) -> impl Iterator<Item = &'a Element> + 'a {
    root.items(set)
}

fn vpc(e: &Element) -> Result<Vpc, BuildError> {
    let mut ipv4 = Vec::new();
    for a in e.items("cidrBlockAssociationSet") {
        if let Some(c) = a.child_text("cidrBlock") {
            ipv4.push(v4net("VPC cidrBlock", c)?);
        }
    }
    if ipv4.is_empty()
        && let Some(c) = e.child_text("cidrBlock")
    {
        ipv4.push(v4net("VPC cidrBlock", c)?);
    }
    let mut ipv6 = Vec::new();
    for a in e.items("ipv6CidrBlockAssociationSet") {
        if let Some(c) = a.child_text("ipv6CidrBlock") {
            ipv6.push(v6net("VPC ipv6CidrBlock", c)?);
        }
    }
    ipv6.sort();
    Ok(Vpc {
        id: text(e, "vpcId"),
        ipv4,
        ipv6,
        ..Vpc::default()
    })
}

fn subnet(e: &Element) -> Result<(String, Subnet), BuildError> {
    let ipv4 = e
        .child_text("cidrBlock")
        .map(|c| v4net("subnet cidrBlock", c))
        .transpose()?;
    let mut ipv6 = None;
    for a in e.items("ipv6CidrBlockAssociationSet") {
        if let Some(c) = a.child_text("ipv6CidrBlock") {
            ipv6 = Some(v6net("subnet ipv6CidrBlock", c)?);
        }
    }
    Ok((
        text(e, "vpcId"),
        Subnet {
            id: text(e, "subnetId"),
            zone: text(e, "availabilityZone"),
            ipv4,
            ipv6,
            assign_ipv6: e.child_text("assignIpv6AddressOnCreation") == Some("true"),
            ..Subnet::default()
        },
    ))
}

fn route_table(e: &Element) -> (String, RouteTable) {
    let mut t = RouteTable {
        id: text(e, "routeTableId"),
        ..RouteTable::default()
    };
    for r in e.items("routeSet") {
        let destination = r
            .child_text("destinationIpv6CidrBlock")
            .or_else(|| r.child_text("destinationCidrBlock"))
            .unwrap_or("?")
            .to_owned();
        let target = r
            .child_text("egressOnlyInternetGatewayId")
            .or_else(|| r.child_text("gatewayId"))
            .or_else(|| r.child_text("natGatewayId"))
            .or_else(|| r.child_text("instanceId"))
            .unwrap_or("?")
            .to_owned();
        t.routes.push(Route {
            destination,
            target,
        });
    }
    for a in e.items("associationSet") {
        if a.child_text("main") == Some("true") {
            t.main = true;
        }
        if let Some(s) = a.child_text("subnetId") {
            t.subnets.push(s.to_owned());
        }
    }
    (text(e, "vpcId"), t)
}

/// Where `inner` sits in `outer`, for sorting.
fn sort_key(n: &Node) -> (u8, u128) {
    match (n.prefixes.first(), n.ipv6) {
        (Some(p), _) => (0, u128::from(p.network())),
        (None, Some(a)) => (1, u128::from(a)),
        (None, None) => (2, 0),
    }
}

fn node(i: &Instance) -> Node {
    let primary = i.primary_interface().or(i.network_interfaces.first());
    let mut prefixes: Vec<Ipv6Net> = i
        .network_interfaces
        .iter()
        .flat_map(|n| n.ipv6_prefixes.iter().copied())
        .collect();
    prefixes.sort();
    Node {
        name: i.instance_id.clone(),
        instance_id: i.instance_id.clone(),
        instance_type: i.instance_type.clone(),
        state: i.state.clone(),
        eni: primary.map(|n| n.network_interface_id.clone()),
        ipv4: i.private_ipv4,
        public_ipv4: None,
        ipv6: i.ipv6_addresses().first().copied(),
        prefixes,
        pods: Vec::new(),
    }
}

fn cluster(c: &Value) -> Result<Cluster, BuildError> {
    let net = &c["kubernetesNetworkConfig"];
    let service_cidr = net["serviceIpv6Cidr"]
        .as_str()
        .map(|s| v6net("serviceIpv6Cidr", s))
        .transpose()?;
    let strs = |v: &Value| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    Ok(Cluster {
        name: c["name"].as_str().unwrap_or_default().to_owned(),
        status: c["status"].as_str().unwrap_or_default().to_owned(),
        ip_family: net["ipFamily"].as_str().unwrap_or("ipv4").to_owned(),
        dns: service_cidr.map(dns_of),
        service_cidr,
        vpc_id: c["resourcesVpcConfig"]["vpcId"].as_str().map(str::to_owned),
        subnet_ids: strs(&c["resourcesVpcConfig"]["subnetIds"]),
        nodegroups: Vec::new(),
        services: Vec::new(),
    })
}

/// Cluster DNS of a service prefix: the prefix with last hextet `a`.
pub fn dns_of(cidr: Ipv6Net) -> Ipv6Addr {
    Ipv6Addr::from(u128::from(cidr.network()) | 0xa)
}

impl Plan {
    /// The plan of a region from its replies; `title` names what is drawn.
    pub fn from_region(title: &str, r: &RegionReplies) -> Result<Plan, BuildError> {
        let mut vpcs = Vec::new();
        for e in items(&r.vpcs, "vpcSet") {
            vpcs.push(vpc(e)?);
        }
        vpcs.sort_by(|a, b| a.id.cmp(&b.id));
        for e in items(&r.subnets, "subnetSet") {
            let (vpc_id, s) = subnet(e)?;
            if let Some(v) = vpcs.iter_mut().find(|v| v.id == vpc_id) {
                v.subnets.push(s);
            }
        }
        for e in items(&r.route_tables, "routeTableSet") {
            let (vpc_id, t) = route_table(e);
            if let Some(v) = vpcs.iter_mut().find(|v| v.id == vpc_id) {
                v.route_tables.push(t);
            }
        }
        let gateways = items(&r.internet_gateways, "internetGatewaySet")
            .map(|e| (e, "internetGatewayId", GatewayKind::Internet))
            .chain(
                items(&r.egress_only_gateways, "egressOnlyInternetGatewaySet")
                    .map(|e| (e, "egressOnlyInternetGatewayId", GatewayKind::EgressOnly)),
            );
        for (e, id_tag, kind) in gateways {
            let id = text(e, id_tag);
            for a in e.items("attachmentSet") {
                let vpc_id = text(a, "vpcId");
                if let Some(v) = vpcs.iter_mut().find(|v| v.id == vpc_id) {
                    v.gateways.push(Gateway {
                        id: id.clone(),
                        kind,
                        routes: Vec::new(),
                    });
                }
            }
        }
        for e in items(&r.security_groups, "securityGroupInfo") {
            let vpc_id = text(e, "vpcId");
            if let Some(v) = vpcs.iter_mut().find(|v| v.id == vpc_id) {
                v.security_groups
                    .push((text(e, "groupId"), text(e, "groupName")));
            }
        }
        for i in &r.instances {
            if matches!(i.state.as_deref(), Some("terminated" | "shutting-down")) {
                continue;
            }
            let Some(subnet_id) = &i.subnet_id else {
                continue;
            };
            if let Some(s) = vpcs
                .iter_mut()
                .flat_map(|v| v.subnets.iter_mut())
                .find(|s| &s.id == subnet_id)
            {
                s.nodes.push(node(i));
            }
        }
        for v in &mut vpcs {
            wire_routes(v);
            v.subnets
                .sort_by_key(|s| (s.ipv6.is_none(), s.ipv6.map(|n| n.network())));
            for s in &mut v.subnets {
                s.nodes.sort_by_key(sort_key);
            }
        }
        let mut clusters = Vec::new();
        for c in &r.clusters {
            let mut c = cluster(c)?;
            c.nodegroups = r
                .nodegroups
                .iter()
                .filter(|(cl, _)| *cl == c.name)
                .map(|(_, n)| n.clone())
                .collect();
            clusters.push(c);
        }
        clusters.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(Plan {
            title: title.to_owned(),
            vpcs,
            clusters,
            findings: r.findings.clone(),
            paths: Vec::new(),
            internet: None,
        })
    }

    /// Overlay a lab: node names and public IPv4s, pods on their nodes (Fargate pods in their
    /// subnet), services in their cluster (the cluster itself when the lab chose its service
    /// CIDR without EKS), and the proven paths.
    pub fn overlay_lab(&mut self, lab: &LabState, paths: Vec<PathResult>) {
        self.internet = Some((lab.internet_ipv4, lab.internet_ipv6));
        self.paths = paths;
        for n in &lab.nodes {
            if let Some(node) = subnets(&mut self.vpcs)
                .flat_map(|s| s.nodes.iter_mut())
                .find(|x| x.instance_id == n.instance_id)
            {
                node.name = n.name.clone();
                node.public_ipv4 = Some(n.public_ipv4);
            }
        }
        // A Fargate unit's instance is drawn as its pod, not as a node.
        for s in subnets(&mut self.vpcs) {
            s.nodes.retain(|n| {
                !lab.pods
                    .iter()
                    .any(|p| p.fargate && p.instance_id.as_ref() == Some(&n.instance_id))
            });
        }
        for p in &lab.pods {
            let pod = Pod {
                name: p.name.clone(),
                namespace: p.namespace.clone(),
                ipv6: p.ipv6,
                ipv4: p.ipv4,
                fargate: p.fargate,
            };
            if p.fargate {
                if let Some(s) =
                    subnets(&mut self.vpcs).find(|s| s.ipv6.is_some_and(|n| n.contains(&p.ipv6)))
                {
                    s.fargate.push(pod);
                }
                continue;
            }
            let instance = lab.node(&p.node).map(|n| n.instance_id.clone());
            let node = subnets(&mut self.vpcs)
                .flat_map(|s| s.nodes.iter_mut())
                .find(|x| {
                    Some(&x.instance_id) == instance.as_ref()
                        || x.prefixes.iter().any(|n| n.contains(&p.ipv6))
                });
            if let Some(node) = node {
                node.pods.push(pod);
            }
        }
        for s in subnets(&mut self.vpcs) {
            s.fargate.sort_by_key(|p| p.ipv6);
            for n in &mut s.nodes {
                n.pods.sort_by_key(|p| p.ipv6);
            }
        }
        let Some(info) = &lab.cluster else {
            return;
        };
        if !self.clusters.iter().any(|c| c.name == info.name) {
            let service_cidr = info.service_cidr.parse().ok();
            self.clusters.push(Cluster {
                name: info.name.clone(),
                status: format!("chosen by {}", info.source),
                ip_family: info.ip_family.clone(),
                service_cidr,
                dns: Some(info.dns),
                vpc_id: lab.vpc.as_ref().map(|v| v.id.clone()),
                ..Cluster::default()
            });
        }
        if let Some(c) = self.clusters.iter_mut().find(|c| c.name == info.name) {
            c.services = lab
                .services
                .iter()
                .map(|s| Service {
                    name: s.name.clone(),
                    namespace: s.namespace.clone(),
                    cluster_ip: s.cluster_ip,
                    port: s.port,
                    target_port: s.target_port,
                    dns_name: s.dns_name.clone(),
                    backends: s.backends.clone(),
                })
                .collect();
            c.services.sort_by_key(|s| s.cluster_ip);
        }
    }
}

fn subnets(vpcs: &mut [Vpc]) -> impl Iterator<Item = &mut Subnet> {
    vpcs.iter_mut().flat_map(|v| v.subnets.iter_mut())
}

/// Which table applies to each subnet, and which routes each gateway carries.
fn wire_routes(v: &mut Vpc) {
    let main = v.route_tables.iter().find(|t| t.main).map(|t| t.id.clone());
    for s in &mut v.subnets {
        s.route_table = v
            .route_tables
            .iter()
            .find(|t| t.subnets.contains(&s.id))
            .map(|t| t.id.clone())
            .or_else(|| main.clone());
    }
    for g in &mut v.gateways {
        g.routes = v
            .route_tables
            .iter()
            .flat_map(|t| {
                t.routes
                    .iter()
                    .filter(|r| r.target == g.id)
                    .map(|r| (t.id.clone(), r.destination.clone()))
            })
            .collect();
    }
}

/// The lab's egress range every node hands its pods' IPv4 interfaces from.
pub const EGRESS_V4: Ipv4Net = match Ipv4Net::new(Ipv4Addr::new(169, 254, 172, 0), 22) {
    Ok(n) => n,
    Err(_) => panic!("169.254.172.0/22 is a valid prefix"),
};

#[cfg(test)]
mod tests {
    use super::*;

    fn xml(s: &str) -> Element {
        ec2_client::xml::parse(s).unwrap()
    }

    fn replies() -> RegionReplies {
        RegionReplies {
            vpcs: xml(
                "<DescribeVpcsResponse><vpcSet><item><vpcId>vpc-1</vpcId><cidrBlock>10.0.0.0/16</cidrBlock>\
                <ipv6CidrBlockAssociationSet><item><ipv6CidrBlock>2001:db8:1:100::/56</ipv6CidrBlock></item></ipv6CidrBlockAssociationSet>\
                </item></vpcSet></DescribeVpcsResponse>",
            ),
            subnets: xml("<DescribeSubnetsResponse><subnetSet>\
                <item><subnetId>subnet-b</subnetId><vpcId>vpc-1</vpcId><cidrBlock>10.0.1.0/24</cidrBlock><availabilityZone>us-east-1b</availabilityZone>\
                <assignIpv6AddressOnCreation>true</assignIpv6AddressOnCreation>\
                <ipv6CidrBlockAssociationSet><item><ipv6CidrBlock>2001:db8:1:101::/64</ipv6CidrBlock></item></ipv6CidrBlockAssociationSet></item>\
                <item><subnetId>subnet-a</subnetId><vpcId>vpc-1</vpcId><cidrBlock>10.0.0.0/24</cidrBlock>\
                <ipv6CidrBlockAssociationSet><item><ipv6CidrBlock>2001:db8:1:100::/64</ipv6CidrBlock></item></ipv6CidrBlockAssociationSet></item>\
                </subnetSet></DescribeSubnetsResponse>"),
            route_tables: xml(
                "<DescribeRouteTablesResponse><routeTableSet><item><routeTableId>rtb-1</routeTableId><vpcId>vpc-1</vpcId>\
                <routeSet><item><destinationCidrBlock>0.0.0.0/0</destinationCidrBlock><gatewayId>igw-1</gatewayId></item>\
                <item><destinationIpv6CidrBlock>::/0</destinationIpv6CidrBlock><egressOnlyInternetGatewayId>eigw-1</egressOnlyInternetGatewayId></item></routeSet>\
                <associationSet><item><main>true</main></item></associationSet></item></routeTableSet></DescribeRouteTablesResponse>",
            ),
            internet_gateways: xml(
                "<R><internetGatewaySet><item><internetGatewayId>igw-1</internetGatewayId>\
                <attachmentSet><item><vpcId>vpc-1</vpcId></item></attachmentSet></item></internetGatewaySet></R>",
            ),
            security_groups: xml(
                "<R><securityGroupInfo><item><groupId>sg-1</groupId><groupName>nodes</groupName><vpcId>vpc-1</vpcId></item></securityGroupInfo></R>",
            ),
            egress_only_gateways: xml(
                "<R><egressOnlyInternetGatewaySet><item><egressOnlyInternetGatewayId>eigw-1</egressOnlyInternetGatewayId>\
                <attachmentSet><item><vpcId>vpc-1</vpcId></item></attachmentSet></item></egressOnlyInternetGatewaySet></R>",
            ),
            instances: vec![Instance {
                instance_id: "i-1".into(),
                instance_type: Some("m5.large".into()),
                state: Some("running".into()),
                subnet_id: Some("subnet-a".into()),
                vpc_id: Some("vpc-1".into()),
                private_ipv4: Some("10.0.0.4".parse().unwrap()),
                ipv6_address: Some("2001:db8:1:100::4".parse().unwrap()),
                network_interfaces: vec![ec2_client::NetworkInterface {
                    network_interface_id: "eni-1".into(),
                    subnet_id: Some("subnet-a".into()),
                    vpc_id: Some("vpc-1".into()),
                    private_ipv4: None,
                    ipv6_addresses: vec![],
                    ipv6_prefixes: vec!["2001:db8:1:100:8a46::/80".parse().unwrap()],
                    mac_address: None,
                    status: None,
                    attachment: None,
                }],
            }],
            clusters: vec![serde_json::json!({"name": "c1", "status": "ACTIVE",
                "kubernetesNetworkConfig": {"ipFamily": "ipv6", "serviceIpv6Cidr": "fd12:3456:789a::/108"},
                "resourcesVpcConfig": {"vpcId": "vpc-1", "subnetIds": ["subnet-a"]}})],
            nodegroups: vec![("c1".into(), "ng1".into())],
            findings: vec![],
        }
    }

    #[test]
    fn region_replies_become_a_nested_plan_in_address_order() {
        let p = Plan::from_region("t", &replies()).unwrap();
        let v = &p.vpcs[0];
        assert_eq!(v.ipv6[0].to_string(), "2001:db8:1:100::/56");
        let ids: Vec<_> = v.subnets.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids, ["subnet-a", "subnet-b"], "sorted by /64");
        assert!(v.subnets[1].assign_ipv6 && !v.subnets[0].assign_ipv6);
        assert_eq!(
            v.subnets[0].route_table.as_deref(),
            Some("rtb-1"),
            "main table"
        );
        let n = &v.subnets[0].nodes[0];
        assert_eq!(n.prefixes[0].to_string(), "2001:db8:1:100:8a46::/80");
        assert_eq!(n.eni.as_deref(), Some("eni-1"));
        let eigw = v.gateways.iter().find(|g| g.id == "eigw-1").unwrap();
        assert_eq!(eigw.kind, GatewayKind::EgressOnly);
        assert_eq!(eigw.routes, [("rtb-1".to_owned(), "::/0".to_owned())]);
        let c = &p.clusters[0];
        assert_eq!(c.dns.unwrap().to_string(), "fd12:3456:789a::a");
        assert_eq!(c.nodegroups, ["ng1"]);
        assert_eq!(v.security_groups, [("sg-1".to_owned(), "nodes".to_owned())]);
    }

    #[test]
    fn a_bad_cidr_in_a_reply_is_an_error_naming_it() {
        let mut r = replies();
        r.clusters[0]["kubernetesNetworkConfig"]["serviceIpv6Cidr"] = "nope".into();
        let e = Plan::from_region("t", &r).unwrap_err().to_string();
        assert!(
            e.contains("\"nope\"") && e.contains("serviceIpv6Cidr"),
            "{e}"
        );
    }

    #[test]
    fn the_lab_puts_pods_on_nodes_and_fargate_pods_in_subnets() {
        let mut p = Plan::from_region("t", &replies()).unwrap();
        let dir = std::env::temp_dir();
        let mut lab = LabState::new("x", &dir);
        lab.nodes.push(lab::state::NodeInfo {
            name: "node1".into(),
            netns: "n".into(),
            instance_id: "i-1".into(),
            eni: "eni-1".into(),
            zone: "z".into(),
            ipv4: "10.0.0.4".parse().unwrap(),
            public_ipv4: "198.51.100.11".parse().unwrap(),
            ipv6: "2001:db8:1:100::4".parse().unwrap(),
            prefix: None,
            agent_socket: dir.clone(),
            conf_dir: dir.clone(),
        });
        for (name, node, ip, fargate) in [
            ("b", "node1", "2001:db8:1:100:8a46::2", false),
            ("a", "node1", "2001:db8:1:100:8a46::1", false),
            ("f", "fargate", "2001:db8:1:101::77", true),
        ] {
            lab.pods.push(lab::state::PodInfo {
                name: name.into(),
                namespace: "default".into(),
                node: node.into(),
                netns: String::new(),
                container_id: String::new(),
                ipv6: ip.parse().unwrap(),
                ipv4: None,
                fargate,
                instance_id: None,
                branch_eni: None,
                security_groups: Vec::new(),
                created: None,
            });
        }
        p.overlay_lab(&lab, vec![]);
        let s = &p.vpcs[0].subnets;
        assert_eq!(s[0].nodes[0].name, "node1");
        let pods: Vec<_> = s[0].nodes[0].pods.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(pods, ["a", "b"]);
        assert_eq!(s[1].fargate[0].name, "f");
        assert_eq!(p.counts(), (1, 3));
    }
}
