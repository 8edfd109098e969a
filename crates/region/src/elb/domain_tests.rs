//! Unit tests of the ELBv2 domain: the family rules, targets inside the VPC, and that a refused
//! request changes nothing.

use std::net::Ipv6Addr;

use super::ElbError;
use super::listeners::CreateListener;
use super::load_balancers::{CreateLoadBalancer, Select};
use super::model::{LbIpType, LbType, Protocol, Scheme, TargetType, TgIpType};
use super::target_groups::{CreateTargetGroup, HealthCheckInput, TargetInput};
use crate::ec2::vpc::{CreateSubnet, CreateVpc};
use crate::store::MemStore;
use crate::{Region, RegionConfig};

struct Lab {
    region: Region,
    vpc: String,
    block: ipnet::Ipv6Net,
    dual: String,
    dual_b: String,
    v4only: String,
}

fn lab() -> Lab {
    let region = Region::open(
        RegionConfig {
            name: "us-east-1".into(),
            account_id: "123456789012".into(),
        },
        Box::new(MemStore::default()),
        Box::new(<rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(7)),
        Box::new(|| 1_700_000_000),
    )
    .unwrap();
    let vpc = region
        .write(|s, env| {
            s.create_vpc(
                env,
                CreateVpc {
                    amazon_provided_ipv6: true,
                    ..CreateVpc::new("10.0.0.0/16".parse().unwrap())
                },
            )
        })
        .unwrap();
    let block = vpc.ipv6_associations[0].cidr;
    let subnet = |i: u128, az: &str, v6: bool| {
        let sub64 =
            ipnet::Ipv6Net::new(Ipv6Addr::from(u128::from(block.network()) | (i << 64)), 64)
                .unwrap();
        region
            .write(|s, env| {
                s.create_subnet(
                    env,
                    CreateSubnet {
                        availability_zone: Some(az.into()),
                        ..CreateSubnet::new(
                            crate::ids::VpcId::parse(&vpc.id).unwrap(),
                            match (format!("10.0.{i}.0/24").parse().unwrap(), v6) {
                                (a, true) => crate::ec2::subnets::SubnetBlocks::DualStack(
                                    a,
                                    sub64.try_into().unwrap(),
                                ),
                                (a, false) => crate::ec2::subnets::SubnetBlocks::Ipv4(a),
                            },
                        )
                    },
                )
            })
            .unwrap()
            .id
    };
    Lab {
        dual: subnet(1, "us-east-1a", true),
        dual_b: subnet(2, "us-east-1b", true),
        v4only: subnet(3, "us-east-1c", false),
        vpc: vpc.id,
        block,
        region,
    }
}

impl Lab {
    fn lb(&self, name: &str, ip: LbIpType, subnets: &[&String]) -> Result<String, ElbError> {
        let req = CreateLoadBalancer {
            name: name.into(),
            lb_type: LbType::Network,
            scheme: Scheme::InternetFacing,
            ip_address_type: ip,
            subnets: subnets.iter().map(|s| s.to_string()).collect(),
            security_groups: vec![],
            tags: Default::default(),
        };
        self.region
            .write(|s, env| s.create_load_balancer(env, req.clone()))
            .map(|l| l.arn)
    }

    fn tg(
        &self,
        name: &str,
        protocol: Protocol,
        tt: TargetType,
        ip: TgIpType,
    ) -> Result<String, ElbError> {
        let req = CreateTargetGroup {
            name: name.into(),
            protocol: Some(protocol),
            port: Some(80),
            vpc_id: Some(self.vpc.clone()),
            target_type: tt,
            ip_address_type: ip,
            health: HealthCheckInput::default(),
            tags: Default::default(),
        };
        self.region
            .write(|s, env| s.create_target_group(env, req.clone()))
            .map(|t| t.arn)
    }

    fn listener(
        &self,
        lb: &str,
        protocol: Protocol,
        port: u16,
        tg: &str,
    ) -> Result<String, ElbError> {
        let req = CreateListener {
            load_balancer_arn: lb.into(),
            protocol: Some(protocol),
            port: Some(port),
            certificate_arn: None,
            target_group_arn: tg.into(),
            tags: Default::default(),
        };
        self.region
            .write(|s, env| s.create_listener(env, req.clone()))
            .map(|l| l.arn)
    }

    fn register(&self, tg: &str, ids: &[&str]) -> Result<(), ElbError> {
        let t: Vec<TargetInput> = ids
            .iter()
            .map(|i| TargetInput {
                id: i.to_string(),
                port: None,
                availability_zone: None,
            })
            .collect();
        self.region.write(|s, _| s.register_targets(tg, &t))
    }

    fn pod(&self, host: u128) -> String {
        Ipv6Addr::from(u128::from(self.block.network()) | (1 << 64) | host).to_string()
    }
}

#[test]
fn a_dualstack_load_balancer_needs_ipv6_in_every_subnet() {
    let l = lab();
    let e = l
        .lb("x", LbIpType::Dualstack, &[&l.dual, &l.v4only])
        .unwrap_err();
    assert!(matches!(e, ElbError::InvalidSubnet { .. }), "{e:?}");
    assert!(e.to_string().contains(&l.v4only), "{e}");
    assert!(l.region.read().elb_load_balancers.is_empty());
    let arn = l.lb("x", LbIpType::Ipv4, &[&l.dual, &l.v4only]).unwrap();
    let e = l
        .region
        .write(|s, _| s.set_ip_address_type(&arn, LbIpType::Dualstack))
        .unwrap_err();
    assert!(matches!(e, ElbError::InvalidSubnet { .. }), "{e:?}");
    assert_eq!(
        l.region.read().load_balancer(&arn).unwrap().ip_address_type,
        LbIpType::Ipv4
    );
}

#[test]
fn ipv6_target_groups_take_ip_targets_of_the_vpc_and_need_a_dualstack_listener() {
    let l = lab();
    let e = l
        .tg("i6", Protocol::Tcp, TargetType::Instance, TgIpType::Ipv6)
        .unwrap_err();
    assert!(
        matches!(e, ElbError::Validation { .. }) && e.to_string().contains("--target-type ip"),
        "{e}"
    );
    let tg = l
        .tg("p6", Protocol::Tcp, TargetType::Ip, TgIpType::Ipv6)
        .unwrap();
    let inside = l.pod(5);
    l.register(&tg, &[&inside]).unwrap();
    l.register(&tg, &[&inside]).unwrap();
    assert_eq!(
        l.region.read().target_group(&tg).unwrap().targets.len(),
        1,
        "idempotent"
    );
    // The wrong family, and an address outside the VPC's /56, are refused and add nothing.
    let outside = Ipv6Addr::from(u128::from(l.block.network()) ^ (1u128 << 72)).to_string();
    for bad in ["10.0.1.9", outside.as_str(), "pod-1"] {
        let e = l.register(&tg, &[&l.pod(6), bad]).unwrap_err();
        assert!(matches!(e, ElbError::InvalidTarget { .. }), "{bad}: {e:?}");
        assert!(e.to_string().contains(bad), "{e}");
    }
    assert_eq!(l.region.read().target_group(&tg).unwrap().targets.len(), 1);

    let v4 = l.lb("v4", LbIpType::Ipv4, &[&l.dual]).unwrap();
    let e = l.listener(&v4, Protocol::Tcp, 80, &tg).unwrap_err();
    assert!(
        matches!(e, ElbError::InvalidConfiguration { .. }) && e.to_string().contains("dualstack"),
        "{e}"
    );
    let ds = l
        .lb("ds", LbIpType::Dualstack, &[&l.dual, &l.dual_b])
        .unwrap();
    l.listener(&ds, Protocol::Tcp, 80, &tg).unwrap();
    let e = l
        .region
        .write(|s, _| s.set_ip_address_type(&ds, LbIpType::Ipv4))
        .unwrap_err();
    assert!(matches!(e, ElbError::InvalidConfiguration { .. }), "{e:?}");
    let e = l
        .region
        .write(|s, _| s.delete_target_group(&tg))
        .unwrap_err();
    assert!(matches!(e, ElbError::ResourceInUse { .. }), "{e:?}");
}

#[test]
fn a_network_load_balancer_forwards_to_ipv6_groups_on_tcp_and_tls_only() {
    let l = lab();
    let ds = l.lb("ds", LbIpType::Dualstack, &[&l.dual]).unwrap();
    let udp6 = l
        .tg("u6", Protocol::Udp, TargetType::Ip, TgIpType::Ipv6)
        .unwrap();
    let e = l.listener(&ds, Protocol::Udp, 53, &udp6).unwrap_err();
    assert!(
        matches!(e, ElbError::IncompatibleProtocols { .. }) && e.to_string().contains("UDP"),
        "{e}"
    );
    let udp4 = l
        .tg("u4", Protocol::Udp, TargetType::Ip, TgIpType::Ipv4)
        .unwrap();
    l.listener(&ds, Protocol::Udp, 53, &udp4).unwrap();
    let e = l.listener(&ds, Protocol::Http, 80, &udp4).unwrap_err();
    assert!(matches!(e, ElbError::UnsupportedProtocol { .. }), "{e:?}");
    let e = l.listener(&ds, Protocol::Tcp, 53, &udp4).unwrap_err();
    assert!(
        matches!(e, ElbError::DuplicateListener { port: 53, .. }),
        "{e:?}"
    );
}

#[test]
fn target_health_is_unused_until_a_listener_uses_the_group() {
    let l = lab();
    let tg = l
        .tg("p6", Protocol::Tcp, TargetType::Ip, TgIpType::Ipv6)
        .unwrap();
    l.register(&tg, &[&l.pod(1)]).unwrap();
    let h = l.region.read().describe_target_health(&tg, &[]).unwrap();
    assert_eq!(
        (h[0].state, h[0].reason),
        ("unused", Some("Target.NotInUse"))
    );
    let ds = l.lb("ds", LbIpType::Dualstack, &[&l.dual]).unwrap();
    l.listener(&ds, Protocol::Tcp, 80, &tg).unwrap();
    let h = l.region.read().describe_target_health(&tg, &[]).unwrap();
    assert_eq!(h[0].state, "initial");
    let (groups, _) = l
        .region
        .read()
        .describe_target_groups(Some(&ds), &Select::default())
        .unwrap();
    assert_eq!(groups.len(), 1);
    l.region.write(|s, _| s.delete_load_balancer(&ds)).unwrap();
    assert!(
        l.region.read().elb_listeners.is_empty(),
        "listeners go with their load balancer"
    );
    let h = l.region.read().describe_target_health(&tg, &[]).unwrap();
    assert_eq!(h[0].state, "unused");
}

#[test]
fn reported_health_is_what_describe_target_health_answers() {
    use super::health::HealthReport;
    use super::model::{HealthReason, ProbedHealth};
    let l = lab();
    let tg = l
        .tg("p6", Protocol::Tcp, TargetType::Ip, TgIpType::Ipv6)
        .unwrap();
    let (a, b) = (l.pod(1), l.pod(2));
    l.register(&tg, &[&a, &b]).unwrap();
    let ds = l.lb("ds", LbIpType::Dualstack, &[&l.dual]).unwrap();
    l.listener(&ds, Protocol::Tcp, 80, &tg).unwrap();
    let verdict = |id: &str, healthy: bool, reason: Option<HealthReason>| HealthReport {
        id: id.into(),
        port: 80,
        health: ProbedHealth {
            healthy,
            reason,
            codes: None,
        },
    };
    let report = vec![
        verdict(&a, true, None),
        verdict(&b, false, Some(HealthReason::Timeout)),
        verdict(&l.pod(9), true, None),
    ];
    let out = l
        .region
        .write(|s, _| s.report_target_health(&tg, &report))
        .unwrap();
    assert_eq!((out.changed, out.unchanged, out.not_registered), (2, 0, 1));
    let h = l.region.read().describe_target_health(&tg, &[]).unwrap();
    assert_eq!((h[0].state, h[0].reason), ("healthy", None));
    assert_eq!(
        (h[1].state, h[1].reason, h[1].description.as_deref()),
        (
            "unhealthy",
            Some("Target.Timeout"),
            Some("Request timed out")
        )
    );
    let again = l
        .region
        .write(|s, _| s.report_target_health(&tg, &report))
        .unwrap();
    assert_eq!(
        (again.changed, again.unchanged),
        (0, 2),
        "nothing rewritten"
    );
    // Registered anew, a target starts over at `initial`.
    l.region
        .write(|s, _| {
            s.deregister_targets(
                &tg,
                &[TargetInput {
                    id: a.clone(),
                    port: None,
                    availability_zone: None,
                }],
            )
        })
        .unwrap();
    l.register(&tg, &[&a]).unwrap();
    let h = l.region.read().describe_target_health(&tg, &[]).unwrap();
    let row = h.iter().find(|r| r.target.id == a).unwrap();
    assert_eq!(row.state, "initial");
}

#[test]
fn a_bad_health_report_changes_nothing() {
    use super::health::HealthReport;
    use super::model::{HealthReason, ProbedHealth};
    let l = lab();
    let tg = l
        .tg("p6", Protocol::Tcp, TargetType::Ip, TgIpType::Ipv6)
        .unwrap();
    let a = l.pod(1);
    l.register(&tg, &[&a]).unwrap();
    let good = HealthReport {
        id: a.clone(),
        port: 80,
        health: ProbedHealth {
            healthy: true,
            reason: None,
            codes: None,
        },
    };
    for bad in [
        ProbedHealth {
            healthy: false,
            reason: None,
            codes: None,
        },
        ProbedHealth {
            healthy: true,
            reason: Some(HealthReason::Timeout),
            codes: None,
        },
        ProbedHealth {
            healthy: false,
            reason: Some(HealthReason::Timeout),
            codes: Some("404".into()),
        },
        ProbedHealth {
            healthy: false,
            reason: Some(HealthReason::ResponseCodeMismatch),
            codes: Some("40<4".into()),
        },
    ] {
        let report = vec![
            good.clone(),
            HealthReport {
                health: bad.clone(),
                ..good.clone()
            },
        ];
        let e = l
            .region
            .write(|s, _| s.report_target_health(&tg, &report))
            .unwrap_err();
        assert!(matches!(e, ElbError::Validation { .. }), "{bad:?}: {e:?}");
        assert!(
            l.region.read().target_group(&tg).unwrap().targets[0]
                .health
                .is_none(),
            "{bad:?} stored something"
        );
    }
    let e = l
        .region
        .write(|s, _| s.report_target_health("arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/none/0123456789abcdef", std::slice::from_ref(&good)))
        .unwrap_err();
    assert!(matches!(e, ElbError::TargetGroupNotFound(_)), "{e:?}");
}
