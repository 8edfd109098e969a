//! The matrix's policy rows: the seed's warnings "route tables need IPv6 routes" and "security
//! groups must allow IPv6" as packet outcomes, each proven both ways. Through the region's EC2
//! API (the lab's own signed client, as any AWS client), the `::/0` route of the first pod's
//! subnet is deleted, and the IPv6 egress rules of its node's security groups are revoked; after
//! each change [`crate::policy::sync`] — what `up` applies route tables and security groups with,
//! and what the reconciler runs on every change — brings the dataplane along, and a real
//! connection from the pod to the internet host must fail in exactly the modelled way: the VPC
//! router's ICMPv6 no-route (ENETUNREACH) without the route; a silent drop (a timeout) counted by
//! the drop rule of the node's egress chain without the rules. Then the route and the rules are
//! given back the same way and the same connection must work again.
//!
//! The rows run after every other row, one after another (they take away what the others rely
//! on), and what was taken away is given back even when a step fails (a drop guard), so the lab
//! is left as it was found.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::process::Command;
use std::time::{Duration, Instant};

use ec2_client::xml::Element;
use ipnet::IpNet;
use serde_json::Value;

use super::{Check, Refusal};
use crate::plan::INTERNET_PORT;
use crate::policy::model::{Snapshot, Target};
use crate::policy::{self, Memo};
use crate::region::Api;
use crate::state::{LabState, NodeInfo, PodInfo};

/// The route row taken away: the negative half.
pub const ROUTE_MISSING: &str = "route missing (no ::/0): pod → IPv6 internet";
/// The route row given back: the positive half.
pub const ROUTE_RESTORED: &str = "route restored (::/0 back): pod → IPv6 internet";
/// The security-group row taken away: the negative half.
pub const SG_MISSING: &str = "security group missing IPv6: pod → IPv6 internet";
/// The security-group row given back: the positive half.
pub const SG_RESTORED: &str = "security group IPv6 restored: pod → IPv6 internet";

/// What the VPC router answers a packet its subnet's table has no route for: an ICMPv6
/// destination unreachable, code 0 (no route), which the kernel reports to `connect()` as
/// ENETUNREACH.
pub const NO_ROUTE: Refusal = Refusal {
    errno: libc::ENETUNREACH,
    text: "ICMPv6 destination unreachable, no route (ENETUNREACH)",
    by: "the VPC router's no-route",
};

/// How long the dropped connection is given: the drop counter, not the wait, proves the drop.
const DROP_WAIT: Duration = Duration::from_secs(1);
const NFT_TIMEOUT: Duration = Duration::from_secs(10);

/// One EC2 call: its action and parameters.
type Call = (&'static str, Vec<(String, String)>);

/// Something taken away through the region's API and given back: pairs of (take, give back).
struct Change {
    calls: Vec<(Call, Call)>,
}

/// What the rows need: the region, the lab, the pod probed from and its node.
struct Ctx<'a> {
    api: Api,
    state: &'a LabState,
    pod: &'a PodInfo,
    node: &'a NodeInfo,
    target: SocketAddr,
}

/// Run the policy rows for `state` (none when the lab has no EC2 pod on its first node, like
/// the matrix's other rows from that pod).
pub(crate) fn run(state: &LabState) -> Vec<Check> {
    let first_node = state.nodes.first().map(|n| n.name.as_str());
    let Some(pod) = state
        .pods
        .iter()
        .find(|p| !p.fargate && Some(p.node.as_str()) == first_node)
    else {
        return Vec::new();
    };
    let (to, works, _) = super::to_internet_v6(state, pod);
    let mut rows = [ROUTE_MISSING, ROUTE_RESTORED, SG_MISSING, SG_RESTORED]
        .map(|p| Check::new(p, &pod.name, to.clone(), works.clone()));
    rows[0].expect = format!("refused by {}: {}", NO_ROUTE.by, NO_ROUTE.text);
    rows[2].expect =
        "a silent drop: timed out, the drop counter of the node's egress chain rose".to_owned();
    match connect(state, pod) {
        Err(e) => {
            for r in &mut rows {
                r.seen = format!("no probe ran: {e}");
            }
        }
        Ok(ctx) => {
            let mut memo = Memo::default();
            let [route_gone, route_back, sg_gone, sg_back] = &mut rows;
            let route = snapshot(&ctx).and_then(|s| route_change(&ctx, &s));
            both_ways(&ctx, &mut memo, route, no_route, (route_gone, route_back));
            let sg = snapshot(&ctx).and_then(|s| sg_change(&ctx, &s));
            both_ways(&ctx, &mut memo, sg, dropped, (sg_gone, sg_back));
        }
    }
    rows.into()
}

fn connect<'a>(state: &'a LabState, pod: &'a PodInfo) -> Result<Ctx<'a>, String> {
    let region = state
        .region
        .as_ref()
        .ok_or_else(|| format!("lab {} has no region recorded", state.name))?;
    let node = state
        .node(&pod.node)
        .ok_or_else(|| format!("pod {}'s node {} is not in the state", pod.name, pod.node))?;
    Ok(Ctx {
        api: Api::connect(region).map_err(|e| e.to_string())?,
        state,
        pod,
        node,
        target: SocketAddr::new(IpAddr::V6(state.internet_ipv6), INTERNET_PORT),
    })
}

fn snapshot(ctx: &Ctx<'_>) -> Result<Snapshot, String> {
    let vpc = ctx
        .state
        .vpc
        .as_ref()
        .ok_or_else(|| format!("lab {} has no VPC recorded", ctx.state.name))?;
    policy::snapshot(&ctx.api, &vpc.id).map_err(|e| e.to_string())
}

/// The `::/0` route of the table the pod's subnet uses: deleted, then created again to the same
/// gateway.
fn route_change(ctx: &Ctx<'_>, snap: &Snapshot) -> Result<Change, String> {
    let eni = snap
        .eni(&ctx.node.eni)
        .ok_or_else(|| format!("the region has no interface {}", ctx.node.eni))?;
    let table = snap
        .table_of(&eni.subnet)
        .ok_or_else(|| format!("subnet {} has no route table", eni.subnet))?;
    let default = IpNet::V6(ipnet::Ipv6Net::default());
    let route = table
        .routes
        .iter()
        .find(|r| r.destination == default)
        .ok_or_else(|| {
            format!(
                "route table {} (subnet {}) has no ::/0 route: nothing to take away, and the pod \
                 cannot reach the IPv6 internet either; add it with `aws ec2 create-route \
                 --destination-ipv6-cidr-block ::/0 --egress-only-internet-gateway-id ..`",
                table.id, eni.subnet
            )
        })?;
    let (param, gateway) = match &route.target {
        Target::EgressOnly(g) => ("EgressOnlyInternetGatewayId", g),
        Target::InternetGateway(g) => ("GatewayId", g),
        other => {
            return Err(format!(
                "::/0 of route table {} goes to {other:?}: the proof gives back only a route to \
                 an internet or egress-only gateway, so it does not take this one away",
                table.id
            ));
        }
    };
    let base = vec![
        ("RouteTableId".to_owned(), table.id.clone()),
        ("DestinationIpv6CidrBlock".to_owned(), "::/0".to_owned()),
    ];
    let mut give = base.clone();
    give.push((param.to_owned(), gateway.clone()));
    Ok(Change {
        calls: vec![(("DeleteRoute", base), ("CreateRoute", give))],
    })
}

/// One IPv6 egress permission of a group, flattened to one range.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Egress6 {
    group: String,
    protocol: String,
    from_port: Option<String>,
    to_port: Option<String>,
    cidr: String,
    description: Option<String>,
}

/// The IPv6 egress permissions of a `DescribeSecurityGroups` reply whose range holds `to`: the
/// ones that let a pod reach that address (pure).
fn ipv6_egress_to(reply: &Element, to: Ipv6Addr) -> Vec<Egress6> {
    let mut out = Vec::new();
    for g in reply.items("securityGroupInfo") {
        let Some(group) = g.child_text("groupId") else {
            continue;
        };
        for p in g.items("ipPermissionsEgress") {
            for r in p.items("ipv6Ranges") {
                let Some(cidr) = r.child_text("cidrIpv6") else {
                    continue;
                };
                if !cidr
                    .parse::<ipnet::Ipv6Net>()
                    .is_ok_and(|n| n.contains(&to))
                {
                    continue;
                }
                let text = |name| p.child_text(name).map(str::to_owned);
                out.push(Egress6 {
                    group: group.to_owned(),
                    protocol: text("ipProtocol").unwrap_or_else(|| "-1".into()),
                    from_port: text("fromPort"),
                    to_port: text("toPort"),
                    cidr: cidr.to_owned(),
                    description: r.child_text("description").map(str::to_owned),
                });
            }
        }
    }
    out
}

/// The parameters of `perms` as `IpPermissions.N` of one Authorize/Revoke call (descriptions
/// only when `described`: a revoke matches rules without them).
fn permission_params(perms: &[&Egress6], described: bool) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (i, p) in perms.iter().enumerate() {
        let k = |f: &str| format!("IpPermissions.{}.{f}", i + 1);
        out.push((k("IpProtocol"), p.protocol.clone()));
        if p.protocol != "-1" {
            if let Some(f) = &p.from_port {
                out.push((k("FromPort"), f.clone()));
            }
            if let Some(t) = &p.to_port {
                out.push((k("ToPort"), t.clone()));
            }
        }
        out.push((k("Ipv6Ranges.1.CidrIpv6"), p.cidr.clone()));
        if let (true, Some(d)) = (described, &p.description) {
            out.push((k("Ipv6Ranges.1.Description"), d.clone()));
        }
    }
    out
}

/// Every IPv6 egress rule of the node's groups that lets the pod reach the internet host:
/// revoked (one call per group), then authorized again as they were (with their descriptions).
fn sg_change(ctx: &Ctx<'_>, snap: &Snapshot) -> Result<Change, String> {
    let eni = snap
        .eni(&ctx.node.eni)
        .ok_or_else(|| format!("the region has no interface {}", ctx.node.eni))?;
    let ids: Vec<(String, String)> = eni
        .groups
        .iter()
        .enumerate()
        .map(|(i, g)| (format!("GroupId.{}", i + 1), g.clone()))
        .collect();
    let params: Vec<(&str, &str)> = ids.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let reply = ctx
        .api
        .call("DescribeSecurityGroups", &params)
        .map_err(|e| e.to_string())?;
    let perms = ipv6_egress_to(&reply, ctx.state.internet_ipv6);
    if perms.is_empty() {
        return Err(format!(
            "no IPv6 egress rule of {} ({}) covers {}: nothing to revoke, and the pod cannot \
             reach the IPv6 internet either; add one with `aws ec2 \
             authorize-security-group-egress --ip-permissions 'IpProtocol=-1,Ipv6Ranges=[{{CidrIpv6=::/0}}]'`",
            ctx.node.eni,
            eni.groups.join(","),
            ctx.state.internet_ipv6
        ));
    }
    let mut calls = Vec::new();
    for g in &eni.groups {
        let mine: Vec<&Egress6> = perms.iter().filter(|p| &p.group == g).collect();
        if mine.is_empty() {
            continue;
        }
        let call = |action, described| {
            let mut p = vec![("GroupId".to_owned(), g.clone())];
            p.extend(permission_params(&mine, described));
            (action, p)
        };
        calls.push((
            call("RevokeSecurityGroupEgress", false),
            call("AuthorizeSecurityGroupEgress", true),
        ));
    }
    Ok(Change { calls })
}

fn describe_call((action, params): &Call) -> String {
    let values: Vec<&str> = params.iter().map(|(_, v)| v.as_str()).collect();
    format!("{action} {}", values.join(" "))
}

fn call(api: &Api, c: &Call) -> Result<String, String> {
    let params: Vec<(&str, &str)> = c.1.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    api.call(c.0, &params)
        .map(|_| describe_call(c))
        .map_err(|e| e.to_string())
}

/// Gives back what was taken when dropped, unless [`GiveBack::now`] did.
struct GiveBack<'a> {
    api: &'a Api,
    calls: Vec<&'a Call>,
}

impl GiveBack<'_> {
    /// Give back every call (the last taken first); what was given back, or every failure.
    fn now(mut self) -> Result<String, String> {
        let calls = std::mem::take(&mut self.calls);
        let mut done = Vec::new();
        let mut failed = Vec::new();
        for c in calls.into_iter().rev() {
            match call(self.api, c) {
                Ok(d) => done.push(d),
                Err(e) => failed.push(format!("{}: {e}", describe_call(c))),
            }
        }
        if failed.is_empty() {
            Ok(done.join("; "))
        } else {
            Err(failed.join("; "))
        }
    }
}

impl Drop for GiveBack<'_> {
    fn drop(&mut self) {
        for c in std::mem::take(&mut self.calls).into_iter().rev() {
            let _ = call(self.api, c);
        }
    }
}

/// Take `change` away, sync, prove the refusal with `refused`; give it back, sync, prove the
/// path works again. Each half fills its row; a failed step fails the row naming the step.
fn both_ways(
    ctx: &Ctx<'_>,
    memo: &mut Memo,
    change: Result<Change, String>,
    refused: fn(&Ctx<'_>) -> (bool, String),
    (gone, back): (&mut Check, &mut Check),
) {
    let start = Instant::now();
    let change = match change {
        Ok(c) => c,
        Err(e) => {
            gone.seen = format!("not taken away: {e}");
            back.seen = "not run: nothing was taken away".into();
            return;
        }
    };
    let mut guard = GiveBack {
        api: &ctx.api,
        calls: Vec::new(),
    };
    let mut taken = Vec::new();
    let mut failed = None;
    for (take, give) in &change.calls {
        match call(&ctx.api, take) {
            Ok(d) => {
                taken.push(d);
                guard.calls.push(give);
            }
            Err(e) => {
                failed = Some(format!("{}: {e}", describe_call(take)));
                break;
            }
        }
    }
    let (ok, seen) = match failed {
        Some(e) => (false, format!("not taken away: {e}")),
        None => match sync(ctx, memo) {
            Ok(()) => refused(ctx),
            Err(e) => (false, e),
        },
    };
    (gone.ok, gone.seen) = (ok, format!("{}; {seen}", taken.join("; ")));
    gone.ms = start.elapsed().as_millis();

    let start = Instant::now();
    let (ok, seen) = match guard.now() {
        Err(e) => (
            false,
            format!("giving back failed, the region is left without it: {e}"),
        ),
        Ok(given) => match sync(ctx, memo) {
            Err(e) => (false, format!("{given}; {e}")),
            Ok(()) => {
                let (_, _, probe) = super::to_internet_v6(ctx.state, ctx.pod);
                let (ok, seen) = probe();
                (ok, format!("{given}; {seen}"))
            }
        },
    };
    (back.ok, back.seen, back.ms) = (ok, seen, start.elapsed().as_millis());
}

fn sync(ctx: &Ctx<'_>, memo: &mut Memo) -> Result<(), String> {
    policy::sync(&ctx.api, ctx.state, memo)
        .map(|_| ())
        .map_err(|e| format!("the dataplane did not follow: {e}"))
}

/// Without the route: the pod's connection must get the VPC router's no-route, nothing else.
fn no_route(ctx: &Ctx<'_>) -> (bool, String) {
    super::judge_refusal(
        super::attempt(&ctx.pod.netns, ctx.target, super::TIMEOUT),
        &NO_ROUTE,
    )
}

/// Without the rules: the pod's connection must time out, and the drop rule of the node's egress
/// chain must have counted it.
fn dropped(ctx: &Ctx<'_>) -> (bool, String) {
    let chain = policy::sg::chain("out", &ctx.node.eni);
    let before = match drop_count(&ctx.node.netns, &chain) {
        Ok(n) => n,
        Err(e) => return (false, format!("no probe ran: {e}")),
    };
    let attempt = super::attempt(&ctx.pod.netns, ctx.target, DROP_WAIT);
    let after = drop_count(&ctx.node.netns, &chain);
    judge_drop(attempt, &chain, before, after)
}

/// A security group's refusal is proven only by a timeout AND the drop counter of the chain
/// rising: a line that got through, another refusal (a no-route, a reject), a timeout the
/// security group did not count (a drop elsewhere) or a probe that never ran is a failed proof.
fn judge_drop(
    attempt: Result<std::io::Result<String>, String>,
    chain: &str,
    before: u64,
    after: Result<u64, String>,
) -> (bool, String) {
    match attempt {
        Err(e) => (false, format!("no probe ran: {e}")),
        Ok(Ok(line)) => (false, format!("got through: {line}")),
        Ok(Err(e)) if !timed_out(&e) => (
            false,
            format!(
                "{}, not a security group's silent drop",
                crate::probe::describe(&e)
            ),
        ),
        Ok(Err(_)) => match after {
            Err(e) => (false, format!("timed out, but {e}")),
            Ok(after) if after > before => (
                true,
                format!(
                    "timed out, dropped silently: the drop counter of {chain} rose {before} → {after}"
                ),
            ),
            Ok(after) => (
                false,
                format!(
                    "timed out, but the drop counter of {chain} stayed at {after}: dropped \
                     elsewhere, not by the security group"
                ),
            ),
        },
    }
}

fn timed_out(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock
    )
}

/// Packets counted by the drop rule of chain `chain` of the security-group table in namespace
/// `ns` (`nft -j list chain`).
pub fn drop_count(ns: &str, chain: &str) -> Result<u64, String> {
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", ns, "nft", "-j", "list", "chain", "inet"])
        .args([policy::sg::TABLE, chain]);
    let what = format!(
        "nft -j list chain inet {} {chain} in {ns}",
        policy::sg::TABLE
    );
    let out = dataplane::exec::run(cmd, b"", NFT_TIMEOUT).map_err(|e| format!("{what}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{what}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let v: Value = serde_json::from_slice(&out.stdout).map_err(|e| format!("{what}: {e}"))?;
    drop_packets(&v).ok_or_else(|| format!("{what}: no drop rule with a counter"))
}

/// The packet counter of the one rule that drops, in `nft -j` output (pure).
fn drop_packets(v: &Value) -> Option<u64> {
    let mut drops = v["nftables"]
        .as_array()?
        .iter()
        .filter_map(|o| o.get("rule")?.get("expr")?.as_array())
        .filter(|expr| expr.iter().any(|e| e.get("drop").is_some()));
    let expr = drops.next()?;
    if drops.next().is_some() {
        return None;
    }
    expr.iter()
        .find_map(|e| e.pointer("/counter/packets").and_then(Value::as_u64))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Error, ErrorKind};

    #[test]
    fn a_missing_route_row_passes_only_on_the_routers_no_route() {
        let (ok, seen) = super::super::judge_refusal(
            Ok(Err(Error::from_raw_os_error(libc::ENETUNREACH))),
            &NO_ROUTE,
        );
        assert!(ok, "{seen}");
        assert_eq!(seen, NO_ROUTE.text);
        for e in [
            Error::new(ErrorKind::TimedOut, "timed out"),
            Error::from_raw_os_error(libc::EACCES),
            Error::from_raw_os_error(libc::EHOSTUNREACH),
            Error::from_raw_os_error(libc::ECONNREFUSED),
        ] {
            let (ok, seen) = super::super::judge_refusal(Ok(Err(e)), &NO_ROUTE);
            assert!(!ok, "counted as no route: {seen}");
            assert!(seen.contains("not the VPC router's no-route"), "{seen}");
        }
        let (ok, seen) = super::super::judge_refusal(Err("no namespace".into()), &NO_ROUTE);
        assert!(!ok && seen.starts_with("no probe ran"), "{seen}");
    }

    #[test]
    fn a_missing_rule_row_passes_only_on_a_timeout_the_drop_counter_counted() {
        let timeout = || Ok(Err(Error::new(ErrorKind::TimedOut, "timed out")));
        let (ok, seen) = judge_drop(timeout(), "out_eni_1", 3, Ok(4));
        assert!(ok, "{seen}");
        assert!(seen.contains("rose 3 → 4"), "{seen}");
        let (ok, seen) = judge_drop(timeout(), "out_eni_1", 3, Ok(3));
        assert!(!ok && seen.contains("stayed at 3"), "{seen}");
        let (ok, _) = judge_drop(timeout(), "out_eni_1", 3, Err("no table".into()));
        assert!(!ok);
        let refused = Ok(Err(Error::from_raw_os_error(libc::ENETUNREACH)));
        let (ok, seen) = judge_drop(refused, "out_eni_1", 3, Ok(9));
        assert!(
            !ok && seen.contains("not a security group's silent drop"),
            "{seen}"
        );
        let (ok, seen) = judge_drop(Ok(Ok("internet saw ::1".into())), "c", 0, Ok(1));
        assert!(!ok && seen.starts_with("got through"), "{seen}");
        let (ok, seen) = judge_drop(Err("no namespace".into()), "c", 0, Ok(1));
        assert!(!ok && seen.starts_with("no probe ran"), "{seen}");
    }

    #[test]
    fn a_missing_namespace_is_not_a_drop_or_a_no_route() {
        let ns = format!("sixfold-no-such-ns-{}", std::process::id());
        let target = SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), INTERNET_PORT);
        let (ok, seen) =
            super::super::judge_refusal(super::super::attempt(&ns, target, DROP_WAIT), &NO_ROUTE);
        assert!(!ok && seen.starts_with("no probe ran"), "{seen}");
        assert!(drop_count(&ns, "out_eni_1").is_err());
    }

    #[test]
    fn the_drop_counter_is_read_from_the_one_drop_rule() {
        let v: Value = serde_json::from_str(
            r#"{"nftables":[{"metainfo":{"version":"1.0.9"}},
              {"chain":{"family":"inet","table":"sixfold-sg","name":"out_eni_1"}},
              {"rule":{"expr":[{"match":{"op":"==","left":{"payload":{"protocol":"ip6","field":"daddr"}},"right":"::/0"}},{"return":null}]}},
              {"rule":{"expr":[{"counter":{"packets":7,"bytes":560}},{"drop":null}],"comment":"deny"}}]}"#,
        )
        .unwrap();
        assert_eq!(drop_packets(&v), Some(7));
        let none: Value =
            serde_json::from_str(r#"{"nftables":[{"rule":{"expr":[{"accept":null}]}}]}"#).unwrap();
        assert_eq!(drop_packets(&none), None);
    }

    fn reply(xml: &str) -> Element {
        ec2_client::xml::parse(xml).unwrap()
    }

    #[test]
    fn only_the_ipv6_egress_rules_reaching_the_host_are_taken_away_and_given_back_as_they_were() {
        let r = reply(
            "<DescribeSecurityGroupsResponse><securityGroupInfo>\
             <item><groupId>sg-1</groupId>\
               <ipPermissions><item><ipProtocol>-1</ipProtocol>\
                 <ipv6Ranges><item><cidrIpv6>::/0</cidrIpv6></item></ipv6Ranges></item></ipPermissions>\
               <ipPermissionsEgress>\
                 <item><ipProtocol>-1</ipProtocol>\
                   <ipRanges><item><cidrIp>0.0.0.0/0</cidrIp></item></ipRanges>\
                   <ipv6Ranges><item><cidrIpv6>::/0</cidrIpv6><description>all v6</description></item></ipv6Ranges></item>\
                 <item><ipProtocol>tcp</ipProtocol><fromPort>80</fromPort><toPort>80</toPort>\
                   <ipv6Ranges><item><cidrIpv6>2001:db8:ffff::/48</cidrIpv6></item>\
                     <item><cidrIpv6>2001:db8:1::/64</cidrIpv6></item></ipv6Ranges></item>\
               </ipPermissionsEgress></item>\
             </securityGroupInfo></DescribeSecurityGroupsResponse>",
        );
        let host: Ipv6Addr = "2001:db8:ffff::10".parse().unwrap();
        let perms = ipv6_egress_to(&r, host);
        let cidrs: Vec<&str> = perms.iter().map(|p| p.cidr.as_str()).collect();
        assert_eq!(cidrs, ["::/0", "2001:db8:ffff::/48"], "{perms:?}");
        let refs: Vec<&Egress6> = perms.iter().collect();
        let revoke = permission_params(&refs, false);
        let want = |v: &[(&str, &str)]| -> Vec<(String, String)> {
            v.iter()
                .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
                .collect()
        };
        assert_eq!(
            revoke,
            want(&[
                ("IpPermissions.1.IpProtocol", "-1"),
                ("IpPermissions.1.Ipv6Ranges.1.CidrIpv6", "::/0"),
                ("IpPermissions.2.IpProtocol", "tcp"),
                ("IpPermissions.2.FromPort", "80"),
                ("IpPermissions.2.ToPort", "80"),
                (
                    "IpPermissions.2.Ipv6Ranges.1.CidrIpv6",
                    "2001:db8:ffff::/48"
                ),
            ])
        );
        let authorize = permission_params(&refs, true);
        assert!(
            authorize.contains(&(
                "IpPermissions.1.Ipv6Ranges.1.Description".into(),
                "all v6".into()
            )),
            "{authorize:?}"
        );
    }
}
