//! What the policy needs of the region, read from its EC2 replies (`DescribeRouteTables`,
//! `DescribeSecurityGroups`, `DescribeNetworkInterfaces`): route tables with their routes and
//! subnet associations, security groups with their rules, and every network interface with its
//! addresses, delegated prefixes and groups. Pure: the readers take parsed XML, so they are
//! unit-tested on replies written by hand.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ec2_client::xml::Element;
use ipnet::{IpNet, Ipv6Net};

use crate::error::{LabError, Result};

/// Where a route sends its traffic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Inside the VPC (`gatewayId` `local`).
    Local,
    /// An internet gateway (`igw-...`).
    InternetGateway(String),
    /// An egress-only internet gateway (`eigw-...`).
    EgressOnly(String),
    /// Anything the lab has no link for (a NAT gateway, a peering): the lab drops it as no route.
    Other(String),
}

/// One route of a route table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub destination: IpNet,
    pub target: Target,
}

/// A route table: its routes, whether it is the VPC's main table, the subnets associated with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteTable {
    pub id: String,
    pub main: bool,
    pub subnets: Vec<String>,
    pub routes: Vec<Route>,
}

/// Where a security-group rule's peer is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Peer {
    Cidr(IpNet),
    /// Every network interface that has this group.
    Group(String),
}

/// One security-group permission, flattened to one peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub egress: bool,
    /// `-1`, `tcp`, `udp`, `icmp`, `icmpv6` or a protocol number.
    pub protocol: String,
    pub from_port: Option<i32>,
    pub to_port: Option<i32>,
    pub peer: Peer,
}

/// A security group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecurityGroup {
    pub id: String,
    pub rules: Vec<Rule>,
}

/// A network interface as the policy sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Eni {
    pub id: String,
    pub subnet: String,
    /// `interface`, `branch`, `trunk`, ...
    pub kind: String,
    pub groups: Vec<String>,
    pub ipv4: Vec<Ipv4Addr>,
    pub ipv6: Vec<Ipv6Addr>,
    /// Delegated IPv6 prefixes (a node's /80): their addresses belong to the interface too.
    pub prefixes: Vec<Ipv6Net>,
}

impl Eni {
    /// Whether `a` is one of this interface's addresses (or inside one of its prefixes).
    pub fn holds(&self, a: IpAddr) -> bool {
        match a {
            IpAddr::V4(a) => self.ipv4.contains(&a),
            IpAddr::V6(a) => self.ipv6.contains(&a) || self.prefixes.iter().any(|p| p.contains(&a)),
        }
    }
}

/// The region's view of one VPC, as far as routes and security groups go.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    pub route_tables: Vec<RouteTable>,
    pub groups: Vec<SecurityGroup>,
    pub enis: Vec<Eni>,
}

impl Snapshot {
    /// The route table subnet `subnet` uses: its explicit association, else the main table.
    pub fn table_of(&self, subnet: &str) -> Option<&RouteTable> {
        self.route_tables
            .iter()
            .find(|t| t.subnets.iter().any(|s| s == subnet))
            .or_else(|| self.route_tables.iter().find(|t| t.main))
    }

    /// The interface named `id`.
    pub fn eni(&self, id: &str) -> Option<&Eni> {
        self.enis.iter().find(|e| e.id == id)
    }

    /// The interface holding address `a`.
    pub fn eni_holding(&self, a: IpAddr) -> Option<&Eni> {
        self.enis.iter().find(|e| e.holds(a))
    }

    /// The group named `id`.
    pub fn group(&self, id: &str) -> Option<&SecurityGroup> {
        self.groups.iter().find(|g| g.id == id)
    }
}

fn bad(action: &str, detail: String) -> LabError {
    LabError::Reply {
        action: action.to_owned(),
        detail,
    }
}

fn parse_net(action: &str, s: &str) -> Result<IpNet> {
    s.parse()
        .map_err(|_| bad(action, format!("{s:?} is not a CIDR block")))
}

/// Route tables from a `DescribeRouteTables` reply.
pub fn route_tables(root: &Element) -> Result<Vec<RouteTable>> {
    const A: &str = "DescribeRouteTables";
    root.items("routeTableSet")
        .map(|t| {
            let id = t
                .child_text("routeTableId")
                .ok_or_else(|| bad(A, "a route table without routeTableId".into()))?;
            let mut routes = Vec::new();
            for r in t.items("routeSet") {
                let dst = r
                    .child_text("destinationCidrBlock")
                    .or_else(|| r.child_text("destinationIpv6CidrBlock"));
                // Prefix-list destinations have no CIDR: nothing the lab can route.
                let Some(dst) = dst else { continue };
                let target = match (
                    r.child_text("gatewayId"),
                    r.child_text("egressOnlyInternetGatewayId"),
                ) {
                    (Some("local"), _) => Target::Local,
                    (Some(g), _) if g.starts_with("igw-") => Target::InternetGateway(g.into()),
                    (_, Some(g)) => Target::EgressOnly(g.into()),
                    (Some(g), None) => Target::Other(g.into()),
                    (None, None) => Target::Other(
                        r.children
                            .iter()
                            .find(|c| c.name.ends_with("Id") && !c.text.trim().is_empty())
                            .map(|c| c.text.trim().to_owned())
                            .unwrap_or_else(|| "unknown".into()),
                    ),
                };
                routes.push(Route {
                    destination: parse_net(A, dst)?,
                    target,
                });
            }
            let assocs: Vec<&Element> = t.items("associationSet").collect();
            Ok(RouteTable {
                id: id.to_owned(),
                main: assocs.iter().any(|a| a.child_text("main") == Some("true")),
                subnets: assocs
                    .iter()
                    .filter_map(|a| a.child_text("subnetId").map(str::to_owned))
                    .collect(),
                routes,
            })
        })
        .collect()
}

fn port(e: &Element, name: &str) -> Option<i32> {
    e.child_text(name).and_then(|p| p.parse().ok())
}

/// Security groups from a `DescribeSecurityGroups` reply.
pub fn security_groups(root: &Element) -> Result<Vec<SecurityGroup>> {
    const A: &str = "DescribeSecurityGroups";
    root.items("securityGroupInfo")
        .map(|g| {
            let id = g
                .child_text("groupId")
                .ok_or_else(|| bad(A, "a security group without groupId".into()))?;
            let mut rules = Vec::new();
            for (list, egress) in [("ipPermissions", false), ("ipPermissionsEgress", true)] {
                for p in g.items(list) {
                    let protocol = p.child_text("ipProtocol").unwrap_or("-1").to_owned();
                    let (from_port, to_port) = (port(p, "fromPort"), port(p, "toPort"));
                    let mut peers = Vec::new();
                    for r in p.items("ipRanges") {
                        if let Some(c) = r.child_text("cidrIp") {
                            peers.push(Peer::Cidr(parse_net(A, c)?));
                        }
                    }
                    for r in p.items("ipv6Ranges") {
                        if let Some(c) = r.child_text("cidrIpv6") {
                            peers.push(Peer::Cidr(parse_net(A, c)?));
                        }
                    }
                    for r in p.items("groups") {
                        if let Some(g) = r.child_text("groupId") {
                            peers.push(Peer::Group(g.to_owned()));
                        }
                    }
                    rules.extend(peers.into_iter().map(|peer| Rule {
                        egress,
                        protocol: protocol.clone(),
                        from_port,
                        to_port,
                        peer,
                    }));
                }
            }
            Ok(SecurityGroup {
                id: id.to_owned(),
                rules,
            })
        })
        .collect()
}

/// Network interfaces from a `DescribeNetworkInterfaces` reply.
pub fn network_interfaces(root: &Element) -> Result<Vec<Eni>> {
    const A: &str = "DescribeNetworkInterfaces";
    root.items("networkInterfaceSet")
        .map(|e| {
            let id = e
                .child_text("networkInterfaceId")
                .ok_or_else(|| bad(A, "an interface without networkInterfaceId".into()))?;
            let addr = |s: &str| -> Result<IpAddr> {
                s.parse()
                    .map_err(|_| bad(A, format!("{id}: {s:?} is not an address")))
            };
            let mut ipv4 = Vec::new();
            for p in e.items("privateIpAddressesSet") {
                if let Some(IpAddr::V4(a)) =
                    p.child_text("privateIpAddress").map(addr).transpose()?
                {
                    ipv4.push(a);
                }
            }
            if let Some(IpAddr::V4(a)) = e.child_text("privateIpAddress").map(addr).transpose()?
                && !ipv4.contains(&a)
            {
                ipv4.push(a);
            }
            let mut ipv6 = Vec::new();
            for p in e.items("ipv6AddressesSet") {
                if let Some(IpAddr::V6(a)) = p.child_text("ipv6Address").map(addr).transpose()? {
                    ipv6.push(a);
                }
            }
            let mut prefixes = Vec::new();
            for p in e.items("ipv6PrefixSet") {
                if let Some(s) = p.child_text("ipv6Prefix") {
                    match parse_net(A, s)? {
                        IpNet::V6(n) => prefixes.push(n),
                        IpNet::V4(n) => return Err(bad(A, format!("{id}: {n} is not IPv6"))),
                    }
                }
            }
            Ok(Eni {
                id: id.to_owned(),
                subnet: e.child_text("subnetId").unwrap_or_default().to_owned(),
                kind: e
                    .child_text("interfaceType")
                    .unwrap_or("interface")
                    .to_owned(),
                groups: e
                    .items("groupSet")
                    .filter_map(|g| g.child_text("groupId").map(str::to_owned))
                    .collect(),
                ipv4,
                ipv6,
                prefixes,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn xml(s: &str) -> Element {
        ec2_client::xml::parse(s).unwrap()
    }

    #[test]
    fn route_tables_are_read_with_targets_and_associations() {
        let t = route_tables(&xml(
            "<R><routeTableSet><item><routeTableId>rtb-1</routeTableId><routeSet>\
             <item><destinationCidrBlock>10.0.0.0/16</destinationCidrBlock><gatewayId>local</gatewayId></item>\
             <item><destinationIpv6CidrBlock>::/0</destinationIpv6CidrBlock><egressOnlyInternetGatewayId>eigw-1</egressOnlyInternetGatewayId></item>\
             <item><destinationCidrBlock>0.0.0.0/0</destinationCidrBlock><gatewayId>igw-1</gatewayId></item>\
             </routeSet><associationSet><item><main>false</main><subnetId>subnet-a</subnetId></item></associationSet>\
             </item><item><routeTableId>rtb-main</routeTableId><associationSet><item><main>true</main></item></associationSet></item></routeTableSet></R>",
        ))
        .unwrap();
        assert_eq!(t.len(), 2);
        assert_eq!(t[0].subnets, ["subnet-a"]);
        assert!(!t[0].main && t[1].main);
        assert_eq!(t[0].routes[0].target, Target::Local);
        assert_eq!(t[0].routes[1].target, Target::EgressOnly("eigw-1".into()));
        assert_eq!(
            t[0].routes[2].target,
            Target::InternetGateway("igw-1".into())
        );
        let s = Snapshot {
            route_tables: t,
            ..Default::default()
        };
        assert_eq!(s.table_of("subnet-a").unwrap().id, "rtb-1");
        assert_eq!(
            s.table_of("subnet-b").unwrap().id,
            "rtb-main",
            "unassociated → main"
        );
    }

    #[test]
    fn security_group_permissions_are_flattened_per_peer() {
        let g = security_groups(&xml(
            "<R><securityGroupInfo><item><groupId>sg-1</groupId><ipPermissions><item>\
             <ipProtocol>tcp</ipProtocol><fromPort>80</fromPort><toPort>81</toPort>\
             <groups><item><groupId>sg-2</groupId></item></groups>\
             <ipRanges><item><cidrIp>10.0.0.0/16</cidrIp></item></ipRanges>\
             <ipv6Ranges><item><cidrIpv6>::/0</cidrIpv6></item></ipv6Ranges></item></ipPermissions>\
             <ipPermissionsEgress><item><ipProtocol>-1</ipProtocol><ipv6Ranges><item><cidrIpv6>::/0</cidrIpv6></item></ipv6Ranges></item></ipPermissionsEgress>\
             </item></securityGroupInfo></R>",
        ))
        .unwrap();
        assert_eq!(g[0].rules.len(), 4);
        assert!(
            g[0].rules[..3]
                .iter()
                .all(|r| !r.egress && r.protocol == "tcp")
        );
        assert_eq!(g[0].rules[2].peer, Peer::Group("sg-2".into()));
        assert!(g[0].rules[3].egress && g[0].rules[3].from_port.is_none());
    }

    #[test]
    fn interfaces_hold_their_addresses_and_prefixes() {
        let e = network_interfaces(&xml(
            "<R><networkInterfaceSet><item><networkInterfaceId>eni-1</networkInterfaceId>\
             <subnetId>subnet-a</subnetId><interfaceType>branch</interfaceType><privateIpAddress>10.0.0.5</privateIpAddress>\
             <groupSet><item><groupId>sg-1</groupId></item></groupSet>\
             <ipv6AddressesSet><item><ipv6Address>2001:db8::5</ipv6Address></item></ipv6AddressesSet>\
             <ipv6PrefixSet><item><ipv6Prefix>2001:db8:0:0:1::/80</ipv6Prefix></item></ipv6PrefixSet>\
             </item></networkInterfaceSet></R>",
        ))
        .unwrap();
        let e = &e[0];
        assert_eq!(
            (e.kind.as_str(), e.groups.as_slice()),
            ("branch", &["sg-1".to_owned()][..])
        );
        assert!(e.holds("10.0.0.5".parse().unwrap()));
        assert!(e.holds("2001:db8::5".parse().unwrap()));
        assert!(
            e.holds("2001:db8::1:0:0:9".parse().unwrap()),
            "inside the /80"
        );
        assert!(!e.holds("2001:db8::6".parse().unwrap()));
    }
}
