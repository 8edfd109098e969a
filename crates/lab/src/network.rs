//! The lab's VPC network beyond the nodes: the VPC router's links, the internet gateway (1:1
//! NAT of each node's private IPv4 to its public IPv4, IPv6 passed untouched), the egress-only
//! gateway (IPv6 out, only replies back in) and the "internet" with its two hosts; and how a
//! node or Fargate unit hangs off the router.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::error::{LabError, Result};
use crate::plan::{self, LL_DOWN, LL_UP};
use crate::region::Launched;
use crate::state::{SubnetInfo, VpcInfo};
use crate::topo::{Ns, default_v4, default_v6, host, net, veth};
use crate::up::Build;

/// The router, gateways and internet, with the IGW's 1:1 NAT and the EIGW's filter.
pub(crate) fn wire_gateways(
    b: &mut Build<'_>,
    router: &mut Ns,
    vpc: &VpcInfo,
    nodes: &[Launched],
) -> Result<()> {
    let v6 = |a: Ipv6Addr| IpAddr::V6(a);
    let v4 = |a: Ipv4Addr| IpAddr::V4(a);
    let vpc56: ipnet::Ipv6Net = vpc.ipv6.parse().map_err(|_| LabError::Reply {
        action: "DescribeVpcs".into(),
        detail: format!("the VPC's IPv6 block {} is not a CIDR", vpc.ipv6),
    })?;
    let vpc_v4: ipnet::IpNet = vpc.ipv4.parse().map_err(|_| LabError::Reply {
        action: "DescribeVpcs".into(),
        detail: format!("the VPC's IPv4 block {} is not a CIDR", vpc.ipv4),
    })?;
    let public: ipnet::IpNet =
        plan::PUBLIC_V4_RANGE
            .parse()
            .map_err(|_| LabError::InvalidFlag {
                flag: "PUBLIC_V4_RANGE",
                detail: plan::PUBLIC_V4_RANGE.into(),
            })?;
    let mut igw = Ns::open(&b.names.igw(), true)?;
    let mut eigw = Ns::open(&b.names.eigw(), true)?;
    let mut inet = Ns::open(&b.names.internet(), false)?;
    veth(router, "igw0", &mut igw, "vpc0")?;
    router.addr("igw0", v4(plan::TRANSIT_ROUTER_V4), 30, false)?;
    router.addr("igw0", v6(LL_UP), 64, true)?;
    igw.addr("vpc0", v4(plan::TRANSIT_IGW_V4), 30, false)?;
    igw.addr("vpc0", v6(LL_DOWN), 64, true)?;
    veth(router, "eigw0", &mut eigw, "vpc0")?;
    router.addr("eigw0", v6(LL_UP), 64, true)?;
    eigw.addr("vpc0", v6(LL_DOWN), 64, true)?;
    veth(&mut igw, "inet0", &mut inet, "igw0")?;
    igw.addr("inet0", v4(plan::IGW_PUBLIC_V4), 32, true)?;
    igw.addr("inet0", v6(LL_UP), 64, true)?;
    inet.addr("igw0", v4(plan::INTERNET_LINK_V4), 32, true)?;
    inet.addr("igw0", v6(LL_DOWN), 64, true)?;
    veth(&mut eigw, "inet0", &mut inet, "eigw0")?;
    eigw.addr("inet0", v6(LL_UP), 64, true)?;
    inet.addr("eigw0", v6(LL_DOWN), 64, true)?;
    inet.addr("lo", v4(plan::INTERNET_V4), 32, true)?;
    inet.addr("lo", v6(plan::INTERNET_V6), 128, true)?;
    // The VPC route table: 0.0.0.0/0 → IGW, ::/0 → EIGW.
    router.route_via(default_v4(), v4(plan::TRANSIT_IGW_V4), "igw0")?;
    router.route_via(default_v6(), v6(LL_DOWN), "eigw0")?;
    // IGW: VPC behind the router, the internet beyond; IPv6 passes untouched.
    igw.route_via(vpc_v4, v4(plan::TRANSIT_ROUTER_V4), "vpc0")?;
    igw.route_dev(host(plan::INTERNET_LINK_V4), "inet0")?;
    igw.route_via(
        net(Ipv4Addr::new(203, 0, 113, 0), 24),
        v4(plan::INTERNET_LINK_V4),
        "inet0",
    )?;
    igw.route_via(ipnet::IpNet::V6(vpc56), v6(LL_UP), "vpc0")?;
    igw.route_via(default_v6(), v6(LL_DOWN), "inet0")?;
    // EIGW.
    eigw.route_via(ipnet::IpNet::V6(vpc56), v6(LL_UP), "vpc0")?;
    eigw.route_via(default_v6(), v6(LL_DOWN), "inet0")?;
    // Internet: public IPv4s behind the IGW, the VPC's IPv6 behind the EIGW.
    inet.route_dev(host(plan::IGW_PUBLIC_V4), "igw0")?;
    inet.route_via(public, v4(plan::IGW_PUBLIC_V4), "igw0")?;
    inet.route_via(ipnet::IpNet::V6(vpc56), v6(LL_UP), "eigw0")?;
    // 1:1 NAT of each node's private IPv4 to its public IPv4.
    let pairs = nodes
        .iter()
        .enumerate()
        .map(|(i, n)| Ok((n.ipv4, plan::node_public_v4(i + 1)?)))
        .collect::<Result<Vec<_>>>()?;
    igw_nat(&igw, &pairs)?;
    eigw.nft(
        "table ip6 sixfold-eigw\ndelete table ip6 sixfold-eigw\ntable ip6 sixfold-eigw {\n\
         \tchain forward {\n\t\ttype filter hook forward priority filter; policy drop;\n\
         \t\tiifname \"vpc0\" oifname \"inet0\" accept\n\
         \t\tiifname \"inet0\" oifname \"vpc0\" ct state established,related accept\n\
         \t\tiifname \"inet0\" counter reject with icmpv6 type admin-prohibited\n\t}\n}\n",
        "the EIGW's egress-only filter",
    )?;
    // The refusal is an ICMPv6 error; without this the kernel's per-destination rate limit
    // swallows the first one and the sender only learns of it on its SYN retry a second later.
    eigw.handle
        .run(|| {
            dataplane::sysctl::Key::parse("net.ipv6.icmp.ratelimit")
                .and_then(|k| dataplane::sysctl::write(&k, "0"))
        })
        .map_err(LabError::dp("entering the EIGW"))?
        .map_err(LabError::dp("net.ipv6.icmp.ratelimit in the EIGW"))?;
    let internet = crate::workloads::responder(
        b,
        &inet.name,
        "internet",
        &[
            format!("{}:{}", plan::INTERNET_V4, plan::INTERNET_PORT),
            format!("[{}]:{}", plan::INTERNET_V6, plan::INTERNET_PORT),
        ],
    )?;
    b.state.processes.push(internet);
    b.state.save()
}

/// The IGW's 1:1 NAT, `(private, public)` per node, replacing the whole table at once (the
/// reconciler calls it again whenever nodes come or go).
pub(crate) fn igw_nat(igw: &Ns, nodes: &[(Ipv4Addr, Ipv4Addr)]) -> Result<()> {
    one_to_one_nat(igw, "sixfold-igw", nodes, "the IGW's 1:1 NAT")
}

/// Replace `table ip <table>` in `igw` at once with a 1:1 NAT of each `(private, public)`
/// pair: traffic to `public` goes to `private`, and `private` leaves through `inet0` as
/// `public`. `what` names the table in an error.
pub(crate) fn one_to_one_nat(
    igw: &Ns,
    table: &str,
    pairs: &[(Ipv4Addr, Ipv4Addr)],
    what: &str,
) -> Result<()> {
    let mut dnat = String::new();
    let mut snat = String::new();
    for (private, public) in pairs {
        dnat.push_str(&format!("\t\tip daddr {public} dnat to {private}\n"));
        snat.push_str(&format!(
            "\t\toifname \"inet0\" ip saddr {private} snat to {public}\n"
        ));
    }
    igw.nft(
        &format!(
            "table ip {table}\ndelete table ip {table}\ntable ip {table} {{\n\
             \tchain prerouting {{\n\t\ttype nat hook prerouting priority dstnat; policy accept;\n{dnat}\t}}\n\
             \tchain postrouting {{\n\t\ttype nat hook postrouting priority srcnat; policy accept;\n{snat}\t}}\n}}\n"
        ),
        what,
    )
}

/// A node or Fargate unit on the VPC router: its ENI's IPv4 (with the length of `subnet`'s
/// IPv4 block) and IPv6 (/64) on `eth0`, everything via the router, whose address on the link
/// is the subnet's first host (as in a VPC); the router routes the unit's addresses to it.
pub(crate) fn attach(
    router: &mut Ns,
    router_if: &str,
    unit: &mut Ns,
    l: &Launched,
    subnet: &SubnetInfo,
) -> Result<()> {
    let (gw, len) = plan::subnet_gateway(&subnet.ipv4)?;
    veth(router, router_if, unit, "eth0")?;
    router.addr(router_if, IpAddr::V4(gw), 32, true)?;
    router.addr(router_if, IpAddr::V6(LL_UP), 64, true)?;
    unit.addr("eth0", IpAddr::V4(l.ipv4), len, true)?;
    unit.addr("eth0", IpAddr::V6(l.ipv6), 64, true)?;
    unit.route_dev(host(gw), "eth0")?;
    unit.route_via(default_v4(), IpAddr::V4(gw), "eth0")?;
    unit.route_via(default_v6(), IpAddr::V6(LL_UP), "eth0")?;
    router.route_dev(host(l.ipv4), router_if)?;
    router.route_dev(host(l.ipv6), router_if)
}
