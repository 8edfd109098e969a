//! `sixfold bootstrap`: a node's kubelet network settings, with the reference `bootstrap.sh`
//! semantics for `--ip-family` and `--service-ipv6-cidr`: a v6 CIDR implies ipv6, combining it
//! with `--ip-family ipv4` is an error (SIX-BOOTSTRAP-FAMILY-CONFLICT), and ipv6 without a CIDR
//! reads it from the region (DescribeCluster). Prints cluster DNS (`<prefix>::a`), node IP and
//! max pods, as text or JSON.

use std::net::{IpAddr, Ipv4Addr, UdpSocket};

use addressing::{Ipv4ServiceCidr, ServiceCidr, ServiceCidr108};
use anyhow::{Context, anyhow, bail};
use serde_json::json;

use crate::eks_client::{AwsArgs, EksClient};
use crate::preflight::Output;

/// Rule id of the `--ip-family ipv4 --service-ipv6-cidr` conflict.
pub const FAMILY_CONFLICT: &str = "SIX-BOOTSTRAP-FAMILY-CONFLICT";

#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  sixfold bootstrap my-cluster --ip-family ipv6 --service-ipv6-cidr fd12:3456:789a::/108 --instance-type m5.large --node-ip 2001:db8::10\n  sixfold bootstrap my-cluster --ip-family ipv6 --instance-type m5.large --endpoint-url http://127.0.0.1:4570 --credentials-file DIR/credentials --profile sixfold"
)]
pub struct Args {
    /// The cluster (read from the region when the service CIDR is not given).
    cluster: Option<String>,
    /// `ipv4` or `ipv6`; a --service-ipv6-cidr implies ipv6.
    #[arg(long)]
    ip_family: Option<String>,
    /// The cluster's IPv6 service CIDR (`aws eks describe-cluster --query cluster.kubernetesNetworkConfig.serviceIpv6Cidr`).
    #[arg(long)]
    service_ipv6_cidr: Option<String>,
    /// Overrides the cluster DNS address.
    #[arg(long)]
    dns_cluster_ip: Option<IpAddr>,
    /// The node's instance type (for max pods). Default: IMDS (instance-type).
    #[arg(long)]
    instance_type: Option<String>,
    /// Overrides max pods.
    #[arg(long)]
    max_pods: Option<u32>,
    /// The node's address. Default: IMDS (the primary interface's first IPv6, or local-ipv4 for
    /// ipv4), else the source address the host would use, of the cluster's family.
    #[arg(long)]
    node_ip: Option<IpAddr>,
    #[arg(long, value_enum, default_value = "text")]
    output: Output,
    #[command(flatten)]
    aws: AwsArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    V4,
    V6,
}

/// The family the flags choose (`None`: read it from the cluster, or ipv4 without one).
pub fn family(
    ip_family: Option<&str>,
    service_ipv6_cidr: Option<&str>,
) -> anyhow::Result<Option<Family>> {
    let f = match ip_family {
        None => None,
        Some("ipv4") => Some(Family::V4),
        Some("ipv6") => Some(Family::V6),
        Some(other) => bail!("--ip-family {other} is not valid: use ipv4 or ipv6"),
    };
    match (f, service_ipv6_cidr) {
        (Some(Family::V4), Some(c)) => bail!(
            "[{FAMILY_CONFLICT}] --service-ipv6-cidr {c} implies --ip-family ipv6, but --ip-family ipv4 was given. Fix: drop --ip-family ipv4 (or the IPv6 CIDR); clusters are single-stack"
        ),
        (_, Some(_)) => Ok(Some(Family::V6)),
        (f, None) => Ok(f),
    }
}

/// Max pods: the override, else the IPv6 rule (110, or 250 for large instances) for ipv6, else
/// the ENI formula for ipv4.
fn max_pods(family: Family, instance_type: Option<&str>, over: Option<u32>) -> anyhow::Result<u32> {
    if let Some(m) = over {
        return Ok(m);
    }
    let t = instance_type
        .ok_or_else(|| anyhow!("give --instance-type (e.g. m5.large) or --max-pods"))?;
    match family {
        Family::V6 => Ok(addressing::max_pods::max_pods_for_instance_type(t)?),
        Family::V4 => {
            let c = region::catalog::Catalog::builtin();
            let it = c
                .get(t)
                .ok_or_else(|| anyhow!("unknown instance type {t}; give --max-pods"))?;
            Ok(it.max_enis * it.ipv4_per_eni.saturating_sub(1) + 2)
        }
    }
}

/// The source address the host would use toward a documentation address of `family` (no
/// packet is sent: connecting a UDP socket only picks a route).
fn detect_node_ip(family: Family) -> anyhow::Result<IpAddr> {
    let (bind, target) = match family {
        Family::V6 => ("[::]:0", "[2001:db8::1]:53"),
        Family::V4 => ("0.0.0.0:0", "192.0.2.1:53"),
    };
    let s = UdpSocket::bind(bind)?;
    s.connect(target)?;
    Ok(s.local_addr()?.ip())
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let chosen = family(args.ip_family.as_deref(), args.service_ipv6_cidr.as_deref())?;
    let needs_region = args.service_ipv6_cidr.is_none()
        && args.dns_cluster_ip.is_none()
        && (chosen == Some(Family::V6) || args.cluster.is_some());
    let (family, service_cidr): (Family, Option<ServiceCidr>) = if let Some(c) =
        &args.service_ipv6_cidr
    {
        let v6: ServiceCidr108 = c.parse().map_err(|e| anyhow!("--service-ipv6-cidr: {e}"))?;
        (Family::V6, Some(ServiceCidr::V6(v6)))
    } else if needs_region {
        let name = args.cluster.as_deref().ok_or_else(|| anyhow!("--ip-family ipv6 without --service-ipv6-cidr reads the CIDR from the region: give the cluster name"))?;
        let cluster = EksClient::new(&args.aws)?.describe_cluster(name)?;
        let net = &cluster["kubernetesNetworkConfig"];
        let remote = if net["ipFamily"] == "ipv6" {
            Family::V6
        } else {
            Family::V4
        };
        if let Some(f) = chosen.filter(|f| *f != remote) {
            bail!(
                "--ip-family {} was given, but cluster {name} is {}; the family is fixed at cluster creation",
                if f == Family::V6 { "ipv6" } else { "ipv4" },
                net["ipFamily"].as_str().unwrap_or("ipv4")
            );
        }
        let cidr = match remote {
            Family::V6 => net["serviceIpv6Cidr"]
                .as_str()
                .map(|s| s.parse::<ServiceCidr108>().map(ServiceCidr::V6)),
            Family::V4 => net["serviceIpv4Cidr"]
                .as_str()
                .map(|s| s.parse::<Ipv4ServiceCidr>().map(ServiceCidr::V4)),
        }
        .ok_or_else(|| anyhow!("cluster {name} reports no service CIDR"))?
        .with_context(|| format!("the service CIDR cluster {name} reports"))?;
        (remote, Some(cidr))
    } else {
        (chosen.unwrap_or(Family::V4), None)
    };
    let dns = match (args.dns_cluster_ip, &service_cidr) {
        (Some(ip), _) => ip,
        (None, Some(c)) => addressing::cluster_dns(c),
        (None, None) => IpAddr::V4(Ipv4Addr::new(10, 100, 0, 10)),
    };
    if (family == Family::V6) != dns.is_ipv6() {
        bail!("cluster DNS {dns} is not of the cluster's family");
    }
    // IMDS only when a value is missing: the node knows itself.
    let needs_imds =
        args.node_ip.is_none() || (args.instance_type.is_none() && args.max_pods.is_none());
    let imds = if needs_imds {
        Some(ec2_client::ImdsClient::from_env().and_then(|c| c.node()))
    } else {
        None
    };
    let node_ip = match (args.node_ip, &imds) {
        (Some(ip), _) => ip,
        (None, Some(Ok(m))) => match family {
            Family::V6 => IpAddr::V6(*m.ipv6s.first().ok_or_else(|| {
                anyhow!(
                    "instance metadata lists no IPv6 address on the primary interface {} ({}); \
                     nodes of an ipv6 cluster need one: launch the node in a subnet that \
                     assigns IPv6 addresses, or give --node-ip",
                    m.interface_id,
                    m.mac
                )
            })?),
            Family::V4 => IpAddr::V4(m.local_ipv4),
        },
        (None, Some(Err(e))) => {
            eprintln!("note: {e}; using the host's source address as the node IP");
            detect_node_ip(family).context("finding the node IP; give --node-ip")?
        }
        (None, None) => detect_node_ip(family).context("finding the node IP; give --node-ip")?,
    };
    let instance_type = match (&args.instance_type, &imds) {
        (Some(t), _) => Some(t.clone()),
        (None, Some(Ok(m))) => Some(m.instance_type.clone()),
        (None, Some(Err(e))) if args.max_pods.is_none() => {
            bail!("give --instance-type (e.g. m5.large) or --max-pods: {e}")
        }
        (None, _) => None,
    };
    if (family == Family::V6) != node_ip.is_ipv6() {
        bail!(
            "--node-ip {node_ip} is not of the cluster's family; nodes of an ipv6 cluster register their IPv6 address"
        );
    }
    let max_pods = max_pods(family, instance_type.as_deref(), args.max_pods)?;
    let fam = if family == Family::V6 { "ipv6" } else { "ipv4" };
    let kubelet = vec![
        format!("--node-ip={node_ip}"),
        format!("--cluster-dns={dns}"),
        format!("--max-pods={max_pods}"),
    ];
    match args.output {
        Output::Json => println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "ipFamily": fam,
                "serviceCidr": service_cidr.map(|c| c.to_string()),
                "clusterDns": dns.to_string(),
                "nodeIp": node_ip.to_string(),
                "maxPods": max_pods,
                "kubeletArgs": kubelet,
            }))?
        ),
        Output::Text => {
            println!("ip-family: {fam}");
            if let Some(c) = service_cidr {
                println!("service-cidr: {c}");
            }
            println!("cluster-dns: {dns}");
            println!("node-ip: {node_ip}");
            println!("max-pods: {max_pods}");
            println!("kubelet-args: {}", kubelet.join(" "));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_v6_cidr_implies_ipv6_and_conflicts_with_ipv4() {
        assert_eq!(family(None, Some("fd00::/108")).unwrap(), Some(Family::V6));
        assert_eq!(family(Some("ipv6"), None).unwrap(), Some(Family::V6));
        let e = family(Some("ipv4"), Some("fd00::/108"))
            .unwrap_err()
            .to_string();
        assert!(e.contains(FAMILY_CONFLICT), "{e}");
        assert!(family(Some("dual"), None).is_err());
    }

    #[test]
    fn max_pods_follow_the_ipv6_rule() {
        assert_eq!(max_pods(Family::V6, Some("m5.large"), None).unwrap(), 110);
        assert_eq!(max_pods(Family::V6, Some("m5.8xlarge"), None).unwrap(), 250);
        assert_eq!(max_pods(Family::V4, Some("m5.large"), None).unwrap(), 29);
        assert_eq!(max_pods(Family::V6, None, Some(17)).unwrap(), 17);
    }
}
