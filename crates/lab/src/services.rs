//! Services, the way an IPv6 EKS cluster has them: ClusterIPs only from the cluster's
//! unique-local /108 (IPv4 and dual-stack requests refused), the per-node nftables DNAT that
//! kube-proxy would program (random balance over the service's pods), and the cluster DNS
//! records. Pure: the nft script is text, applied by the caller.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv6Addr};

use addressing::service::ServiceCidr108;

/// The nftables table (family `ip6`) holding the service rules of one node.
pub const TABLE: &str = "sixfold-services";
/// The first ClusterIP handed out (host part); below it sit `::1` (the API server in
/// Kubernetes) and `::a` (cluster DNS).
const FIRST_HOST: u128 = 0x100;

/// An IP family a service asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    Ipv4,
    Ipv6,
}

/// `spec.ipFamilyPolicy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FamilyPolicy {
    SingleStack,
    PreferDualStack,
    RequireDualStack,
}

/// What a service asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceRequest {
    pub name: String,
    pub namespace: String,
    /// `spec.ipFamilies` (empty: the cluster's family).
    pub families: Vec<Family>,
    pub policy: FamilyPolicy,
    /// `spec.clusterIP`, if the user asked for one.
    pub cluster_ip: Option<IpAddr>,
}

impl ServiceRequest {
    /// A plain single-stack service with an allocated ClusterIP.
    pub fn new(name: &str, namespace: &str) -> ServiceRequest {
        ServiceRequest {
            name: name.to_owned(),
            namespace: namespace.to_owned(),
            families: Vec::new(),
            policy: FamilyPolicy::SingleStack,
            cluster_ip: None,
        }
    }
}

/// Why a service cannot get a ClusterIP.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ServiceError {
    #[error(
        "service {service}: IPv4 was requested, but an IPv6 cluster gives services IPv6 addresses only (from {cidr}); drop IPv4 from spec.ipFamilies"
    )]
    Ipv4Requested { service: String, cidr: String },
    #[error(
        "service {service}: dual-stack ({policy:?}) is not supported in an IPv6 EKS cluster; use ipFamilyPolicy SingleStack"
    )]
    DualStack {
        service: String,
        policy: FamilyPolicy,
    },
    #[error(
        "service {service}: clusterIP {ip} is not inside the cluster's service range {cidr}; leave clusterIP empty to have one allocated"
    )]
    OutsideRange {
        service: String,
        ip: IpAddr,
        cidr: String,
    },
    #[error("service {service}: clusterIP {ip} is reserved or already in use; pick another")]
    Taken { service: String, ip: Ipv6Addr },
    #[error("service {service}: the service range {cidr} is full")]
    Exhausted { service: String, cidr: String },
    #[error(
        "service {service} has no pods to send traffic to; run more pods (--pods-per-node) or fewer services (--services)"
    )]
    NoBackends { service: String },
}

/// Allocate a ClusterIP for `req` from `cidr`, avoiding `used`. Refuses IPv4 and dual-stack.
pub fn allocate(
    cidr: ServiceCidr108,
    req: &ServiceRequest,
    used: &BTreeSet<Ipv6Addr>,
) -> Result<Ipv6Addr, ServiceError> {
    if req.families.contains(&Family::Ipv4) {
        return Err(ServiceError::Ipv4Requested {
            service: req.name.clone(),
            cidr: cidr.to_string(),
        });
    }
    if req.policy != FamilyPolicy::SingleStack || req.families.len() > 1 {
        return Err(ServiceError::DualStack {
            service: req.name.clone(),
            policy: req.policy,
        });
    }
    let reserved = |a: Ipv6Addr| {
        let host = u128::from(a) - u128::from(cidr.network());
        host < FIRST_HOST || a == cidr.cluster_dns() || used.contains(&a)
    };
    match req.cluster_ip {
        Some(IpAddr::V4(_)) => Err(ServiceError::Ipv4Requested {
            service: req.name.clone(),
            cidr: cidr.to_string(),
        }),
        Some(IpAddr::V6(a)) if !cidr.contains_addr(a) => Err(ServiceError::OutsideRange {
            service: req.name.clone(),
            ip: IpAddr::V6(a),
            cidr: cidr.to_string(),
        }),
        Some(IpAddr::V6(a)) if reserved(a) => Err(ServiceError::Taken {
            service: req.name.clone(),
            ip: a,
        }),
        Some(IpAddr::V6(a)) => Ok(a),
        None => {
            let base = u128::from(cidr.network());
            (FIRST_HOST..(1u128 << 20))
                .map(|h| Ipv6Addr::from(base + h))
                .find(|a| !reserved(*a))
                .ok_or_else(|| ServiceError::Exhausted {
                    service: req.name.clone(),
                    cidr: cidr.to_string(),
                })
        }
    }
}

/// The DNS name of a service.
pub fn dns_name(name: &str, namespace: &str) -> String {
    format!("{name}.{namespace}.svc.cluster.local")
}

/// One service as kube-proxy programs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dnat {
    pub cluster_ip: Ipv6Addr,
    pub port: u16,
    pub target_port: u16,
    pub backends: Vec<Ipv6Addr>,
}

/// The `nft -f` script that (re)creates a node's service table atomically: each ClusterIP:port
/// is DNATed to `numgen random mod N` over its backends, for traffic routed through the node
/// (from its pods) and traffic the node itself sends. A pod that reaches itself through its
/// service (hairpin) is masqueraded, as kube-proxy does, so the reply comes back through the
/// node and is un-DNATed.
pub fn nft_script(services: &[Dnat]) -> Result<String, ServiceError> {
    let mut rules = String::new();
    let mut hairpin = String::new();
    for s in services {
        if s.backends.is_empty() {
            return Err(ServiceError::NoBackends {
                service: s.cluster_ip.to_string(),
            });
        }
        let map: Vec<String> = s
            .backends
            .iter()
            .enumerate()
            .map(|(i, b)| format!("{i} : {b}"))
            .collect();
        rules.push_str(&format!(
            "\t\tip6 daddr {} tcp dport {} dnat to numgen random mod {} map {{ {} }} : {}\n",
            s.cluster_ip,
            s.port,
            s.backends.len(),
            map.join(", "),
            s.target_port
        ));
        for b in &s.backends {
            hairpin.push_str(&format!(
                "\t\tct status dnat ip6 saddr {b} ip6 daddr {b} masquerade\n"
            ));
        }
    }
    Ok(format!(
        "table ip6 {TABLE}\n\
         delete table ip6 {TABLE}\n\
         table ip6 {TABLE} {{\n\
         \tchain services {{\n{rules}\t}}\n\
         \tchain prerouting {{\n\t\ttype nat hook prerouting priority dstnat; policy accept;\n\t\tjump services\n\t}}\n\
         \tchain output {{\n\t\ttype nat hook output priority -100; policy accept;\n\t\tjump services\n\t}}\n\
         \tchain postrouting {{\n\t\ttype nat hook postrouting priority srcnat; policy accept;\n{hairpin}\t}}\n\
         }}\n"
    ))
}

/// The cluster DNS records: lowercase name → AAAA.
pub fn dns_records<'a>(
    services: impl IntoIterator<Item = (&'a str, &'a str, Ipv6Addr)>,
) -> BTreeMap<String, Ipv6Addr> {
    services
        .into_iter()
        .map(|(n, ns, ip)| (dns_name(n, ns).to_ascii_lowercase(), ip))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cidr() -> ServiceCidr108 {
        "fd12:3456:789a::/108".parse().unwrap()
    }

    #[test]
    fn cluster_ips_come_from_the_108_and_skip_dns() {
        let mut used = BTreeSet::new();
        let a = allocate(cidr(), &ServiceRequest::new("a", "default"), &used).unwrap();
        assert!(cidr().contains_addr(a));
        assert_ne!(a, cidr().cluster_dns());
        used.insert(a);
        let b = allocate(cidr(), &ServiceRequest::new("b", "default"), &used).unwrap();
        assert_ne!(a, b);
        assert_eq!(a.to_string(), "fd12:3456:789a::100");
    }

    #[test]
    fn ipv4_and_dual_stack_are_refused_with_a_fix() {
        let used = BTreeSet::new();
        let mut r = ServiceRequest::new("v4", "default");
        r.families = vec![Family::Ipv4];
        let e = allocate(cidr(), &r, &used).unwrap_err();
        assert!(matches!(e, ServiceError::Ipv4Requested { .. }));
        assert!(e.to_string().contains("IPv6 addresses only"), "{e}");
        let mut r = ServiceRequest::new("ds", "default");
        r.families = vec![Family::Ipv6, Family::Ipv4];
        r.policy = FamilyPolicy::RequireDualStack;
        assert!(allocate(cidr(), &r, &used).is_err());
        let mut r = ServiceRequest::new("pds", "default");
        r.policy = FamilyPolicy::PreferDualStack;
        assert!(matches!(
            allocate(cidr(), &r, &used),
            Err(ServiceError::DualStack { .. })
        ));
        let mut r = ServiceRequest::new("ip4", "default");
        r.cluster_ip = Some("10.100.0.10".parse().unwrap());
        assert!(matches!(
            allocate(cidr(), &r, &used),
            Err(ServiceError::Ipv4Requested { .. })
        ));
        let mut r = ServiceRequest::new("out", "default");
        r.cluster_ip = Some("fd00::1".parse().unwrap());
        assert!(matches!(
            allocate(cidr(), &r, &used),
            Err(ServiceError::OutsideRange { .. })
        ));
        let mut r = ServiceRequest::new("dns", "default");
        r.cluster_ip = Some(IpAddr::V6(cidr().cluster_dns()));
        assert!(matches!(
            allocate(cidr(), &r, &used),
            Err(ServiceError::Taken { .. })
        ));
    }

    #[test]
    fn nft_script_balances_over_backends() {
        let s = nft_script(&[Dnat {
            cluster_ip: "fd12:3456:789a::100".parse().unwrap(),
            port: 80,
            target_port: 8080,
            backends: vec![
                "2001:db8::1".parse().unwrap(),
                "2001:db8::2".parse().unwrap(),
            ],
        }])
        .unwrap();
        assert!(s.contains(
            "ip6 daddr fd12:3456:789a::100 tcp dport 80 dnat to numgen random mod 2 map { 0 : 2001:db8::1, 1 : 2001:db8::2 } : 8080"
        ), "{s}");
        assert!(s.contains("hook prerouting") && s.contains("hook output"));
        assert!(
            nft_script(&[Dnat {
                cluster_ip: "fd12:3456:789a::100".parse().unwrap(),
                port: 80,
                target_port: 8080,
                backends: vec![],
            }])
            .is_err()
        );
    }

    #[test]
    fn dns_names_follow_kubernetes() {
        let r = dns_records([("Web1", "default", "fd00::100".parse().unwrap())]);
        assert_eq!(
            r.keys().collect::<Vec<_>>(),
            ["web1.default.svc.cluster.local"]
        );
    }
}
