//! A load balancer's place in the lab's network: its namespace hangs off the VPC router like a
//! node (the ENI's IPv4 and IPv6 on `eth0`); an internet-facing one also gets its public IPv4
//! (the internet gateway's `table ip sixfold-lb`, 1:1 NAT, rewritten from the state) and a route
//! from the internet to its IPv6 through the internet gateway. Replies to IPv6 clients leave by
//! the VPC route table's `::/0` (the egress-only gateway lets outbound through). An internal one
//! gets neither: the internet reaches its IPv6 only through the egress-only gateway, which
//! refuses new inbound connections (admin-prohibited).

use std::net::{IpAddr, Ipv4Addr};

use crate::error::Result;
use crate::lb::LoadBalancerInfo;
use crate::plan::{LL_UP, Names};
use crate::region::Launched;
use crate::state::LabState;
use crate::topo::{self, Ns, host};

/// Create load balancer `lb`'s namespace (recorded first) and wire it to the router; for an
/// internet-facing one, also the IGW mapping and the internet's route.
pub fn attach(state: &mut LabState, lb: &LoadBalancerInfo) -> Result<()> {
    let names = Names::new(&state.name)?;
    let subnet = state
        .vpc
        .as_ref()
        .and_then(|v| v.subnets.iter().find(|s| s.id == lb.subnet))
        .cloned()
        .ok_or_else(|| crate::error::LabError::Reply {
            action: "CreateNetworkInterface".into(),
            detail: format!("{} is not one of the lab VPC's subnets", lb.subnet),
        })?;
    state.add_namespaces(std::slice::from_ref(&lb.netns))?;
    topo::create_namespaces(std::slice::from_ref(&lb.netns))?;
    let mut router = Ns::open(&names.router(), true)?;
    let mut ns = Ns::open(&lb.netns, false)?;
    let unit = Launched {
        instance_id: lb.name.clone(),
        eni: lb.eni.clone(),
        subnet: lb.subnet.clone(),
        ipv4: lb.ipv4,
        ipv6: lb.ipv6,
        mac: None,
        prefix: None,
    };
    crate::network::attach(&mut router, &lb.router_if, &mut ns, &unit, &subnet)?;
    if lb.internet_facing() {
        let mut inet = Ns::open(&names.internet(), false)?;
        inet.route_via(host(lb.ipv6), IpAddr::V6(LL_UP), "igw0")?;
    }
    Ok(())
}

/// Rewrite the IGW's `table ip sixfold-lb` from the state: each internet-facing load balancer's
/// public IPv4 ↔ private IPv4.
pub fn igw_nat(state: &LabState) -> Result<()> {
    let names = Names::new(&state.name)?;
    let pairs: Vec<(Ipv4Addr, Ipv4Addr)> = state
        .load_balancers
        .iter()
        .filter_map(|lb| lb.public_ipv4.map(|public| (lb.ipv4, public)))
        .collect();
    let igw = Ns::open(&names.igw(), true)?;
    crate::network::one_to_one_nat(&igw, "sixfold-lb", &pairs, "the IGW's load balancer NAT")
}
