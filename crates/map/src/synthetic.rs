//! A synthetic plan of any size (one VPC, three subnets, `nodes` nodes with `pods` pods each,
//! a cluster with services, one finding): for the benchmark and the renderer's tests.
//! Deterministic: the /80s sit at pseudo-random offsets from a fixed seed.

use std::net::{Ipv4Addr, Ipv6Addr};

use ipnet::Ipv6Net;

use crate::model::*;

fn net(s: &str) -> Ipv6Net {
    // Only called with the literals below, which are valid prefixes.
    s.parse().unwrap_or_default()
}

/// A plan of `nodes` × `pods`.
pub fn plan(nodes: usize, pods: usize) -> Plan {
    let vpc56 = net("2001:db8:100::/56");
    let mut subnets: Vec<Subnet> = (0..3u16)
        .map(|i| Subnet {
            id: format!("subnet-{i:017x}"),
            zone: format!("us-east-1{}", char::from(b'a' + i as u8)),
            ipv4: format!("10.0.{i}.0/24").parse().ok(),
            ipv6: Some(net(&format!("2001:db8:100:{i}::/64"))),
            // Subnet 2 is the one the synthetic finding is about.
            assign_ipv6: i != 2,
            route_table: Some("rtb-0000000000000001".into()),
            ..Subnet::default()
        })
        .collect();
    let mut seed: u64 = 0x5eed_6f0d;
    for n in 0..nodes {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let s = n % subnets.len();
        let base = u128::from(
            subnets[s]
                .ipv6
                .map(|x| x.network())
                .unwrap_or(Ipv6Addr::UNSPECIFIED),
        );
        let p80 = base | (u128::from((seed >> 33) as u16) << 48);
        let prefix = Ipv6Net::new(Ipv6Addr::from(p80), 80).unwrap_or_default();
        let ipv4 = Ipv4Addr::new(10, 0, s as u8, (4 + n / 3 % 250) as u8);
        subnets[s].nodes.push(Node {
            name: format!("node{}", n + 1),
            instance_id: format!("i-{:017x}", n + 1),
            instance_type: Some("m5.large".into()),
            state: Some("running".into()),
            eni: Some(format!("eni-{:017x}", n + 1)),
            ipv4: Some(ipv4),
            public_ipv4: None,
            ipv6: Some(Ipv6Addr::from(base | 0xffff_0000 | (n as u128 + 4))),
            prefixes: vec![prefix],
            pods: (0..pods)
                .map(|p| Pod {
                    name: format!("pod-{}-{}", n + 1, p + 1),
                    namespace: "default".into(),
                    ipv6: Ipv6Addr::from(p80 | (p as u128 + 1)),
                    ipv4: Some(Ipv4Addr::from(
                        u32::from(Ipv4Addr::new(169, 254, 172, 2)) + p as u32,
                    )),
                    fargate: false,
                })
                .collect(),
        });
    }
    for s in &mut subnets {
        s.nodes
            .sort_by_key(|n| n.prefixes.first().map(|p| p.network()));
    }
    subnets[0].fargate.push(Pod {
        name: "fargate-1".into(),
        namespace: "default".into(),
        ipv6: "2001:db8:100:0:9788:36f1:3b00:37e1"
            .parse()
            .unwrap_or(Ipv6Addr::UNSPECIFIED),
        ipv4: Some(Ipv4Addr::new(10, 0, 0, 250)),
        fargate: true,
    });
    let svc = net("fd12:3456:789a::/108");
    let services = (0..10u16)
        .map(|i| Service {
            name: format!("svc{i}"),
            namespace: "default".into(),
            cluster_ip: Ipv6Addr::from(u128::from(svc.network()) | (0x100 + u128::from(i))),
            port: 80,
            target_port: 8080,
            dns_name: format!("svc{i}.default.svc.cluster.local"),
            backends: vec![format!("pod-1-{}", i + 1)],
        })
        .collect();
    let rtb = "rtb-0000000000000001".to_owned();
    Plan {
        title: format!("synthetic {nodes} nodes × {pods} pods"),
        vpcs: vec![Vpc {
            id: "vpc-00000000000000001".into(),
            ipv4: vec!["10.0.0.0/16".parse().unwrap_or_default()],
            ipv6: vec![vpc56],
            subnets,
            gateways: vec![
                Gateway {
                    id: "igw-0000000000000001".into(),
                    kind: GatewayKind::Internet,
                    routes: vec![(rtb.clone(), "0.0.0.0/0".into())],
                },
                Gateway {
                    id: "eigw-0000000000000001".into(),
                    kind: GatewayKind::EgressOnly,
                    routes: vec![(rtb.clone(), "::/0".into())],
                },
            ],
            security_groups: vec![("sg-00000000000000001".into(), "nodes".into())],
            route_tables: vec![RouteTable {
                id: rtb,
                main: true,
                subnets: vec![],
                routes: vec![],
            }],
        }],
        clusters: vec![Cluster {
            name: "synthetic".into(),
            status: "ACTIVE".into(),
            ip_family: "ipv6".into(),
            service_cidr: Some(svc),
            dns: Some(crate::build::dns_of(svc)),
            vpc_id: Some("vpc-00000000000000001".into()),
            subnet_ids: vec![],
            nodegroups: vec!["nodes".into()],
            services,
        }],
        findings: vec![Finding::from_issue(
            "SIX-SUBNET-AUTO-IPV6",
            "Ec2SubnetInvalidConfiguration",
            "[SIX-SUBNET-AUTO-IPV6] Subnet subnet-00000000000000002 does not auto-assign IPv6. Fix: aws ec2 modify-subnet-attribute --assign-ipv6-address-on-creation.",
            vec!["subnet-00000000000000002".into()],
            "synthetic",
        )],
        paths: Vec::new(),
        internet: None,
    }
}
