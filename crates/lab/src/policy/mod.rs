//! Route tables and security groups enforced on real packets: the lab's dataplane follows what
//! the region says. [`sync`] reads the VPC's route tables, security groups and network
//! interfaces through the EC2 API, derives the router's per-subnet routing ([`routes`]) and
//! every node's nftables ruleset ([`sg`]) — both pure — and applies only what differs:
//! `ip -batch` diffs in the router and internet namespaces, one atomic `nft -f` per node whose
//! ruleset changed. Idempotent and cheap when nothing changed: three Describe calls, and with a
//! [`Memo`] of the last pass (the reconciler's) no `ip` or `nft` at all; called by the lab's
//! reconciler on every change of the region.
//!
//! Branch interfaces (security groups for pods) are made in [`branch`].

pub mod branch;
pub mod model;
pub mod routes;
pub mod sg;

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use crate::error::{LabError, Result};
use crate::plan::{self, LL_DOWN, LL_UP, Names};
use crate::region::Api;
use crate::state::LabState;
use model::Snapshot;

const CMD_TIMEOUT: Duration = Duration::from_secs(20);

/// What one [`sync`] did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Report {
    /// What changed (`router: 2 lines`, `sfl-x-node1: security groups`).
    pub changed: Vec<String>,
    /// What could not be enforced (an interface the region does not know, ...).
    pub problems: Vec<String>,
}

/// What the last [`sync`] applied, so an unchanged part is neither reread nor rewritten: the
/// ruleset per namespace, and the router's routing (its plan, the subnets whose router
/// addresses exist, the internet's inbound routes). Kept by the caller (the reconciler holds one
/// for its life; a one-shot caller passes a fresh one, which reads and compares everything).
///
/// Sound because every writer derives the same dataplane from the region and the reconciler
/// converges after every change of it: a part another writer changed is one whose region input
/// changed, so the reconciler's next plan differs from its memo and it reads the kernel again.
#[derive(Debug, Default, Clone)]
pub struct Memo {
    rulesets: BTreeMap<String, String>,
    /// The router's routing as last applied in full; `None` until then, and while applying.
    routing: Option<Routing>,
}

/// Everything [`sync_routes`] derives from the region and the lab's state.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Routing {
    plan: routes::RoutePlan,
    subnets: Vec<(String, ipnet::Ipv6Net)>,
    inbound: Vec<ipnet::Ipv6Net>,
}

/// Read the VPC's route tables, security groups and interfaces from the region.
pub fn snapshot(api: &Api, vpc_id: &str) -> Result<Snapshot> {
    let f = [("Filter.1.Name", "vpc-id"), ("Filter.1.Value.1", vpc_id)];
    Ok(Snapshot {
        route_tables: model::route_tables(&api.call("DescribeRouteTables", &f)?)?,
        groups: model::security_groups(&api.call("DescribeSecurityGroups", &f)?)?,
        enis: model::network_interfaces(&api.call("DescribeNetworkInterfaces", &f)?)?,
    })
}

/// Bring the lab's routing and security groups to what the region says.
pub fn sync(api: &Api, state: &LabState, memo: &mut Memo) -> Result<Report> {
    let mut report = Report::default();
    let Some(vpc) = &state.vpc else {
        return Ok(report);
    };
    let snap = snapshot(api, &vpc.id)?;
    let names = Names::new(&state.name)?;
    sync_routes(state, &names, &snap, memo, &mut report)?;
    sync_groups(state, &snap, memo, &mut report)?;
    Ok(report)
}

fn suffix<'a>(names: &Names, netns: &'a str) -> &'a str {
    netns.strip_prefix(&names.prefix()).unwrap_or(netns)
}

/// The router's links towards units in subnets: nodes and Fargate units, whose router
/// interface is named like their namespace without the lab prefix (`node1`, `fg1`).
fn links(state: &LabState, names: &Names, snap: &Snapshot, r: &mut Report) -> Vec<routes::Link> {
    let mut out = Vec::new();
    for n in &state.nodes {
        match snap.eni(&n.eni) {
            Some(e) => out.push(routes::Link {
                router_if: suffix(names, &n.netns).to_owned(),
                subnet: e.subnet.clone(),
            }),
            None => r
                .problems
                .push(format!("{}: the region has no interface {}", n.name, n.eni)),
        }
    }
    for p in state.pods.iter().filter(|p| p.fargate) {
        if let Some(e) = snap.eni_holding(IpAddr::V6(p.ipv6)) {
            out.push(routes::Link {
                router_if: suffix(names, &p.netns).to_owned(),
                subnet: e.subnet.clone(),
            });
        }
    }
    out
}

fn ip_json(ns: &str, args: &[&str]) -> Result<Value> {
    let mut cmd = Command::new("ip");
    cmd.args(["-j", "-n", ns]).args(args);
    let what = format!("ip {} in {ns}", args.join(" "));
    let out = run_checked(cmd, b"", what.clone(), what)?;
    let text = String::from_utf8_lossy(&out.stdout);
    if text.trim().is_empty() {
        return Ok(Value::Array(vec![]));
    }
    serde_json::from_str(&text).map_err(|e| LabError::Command {
        what: format!("ip -j {} in {ns}", args.join(" ")),
        detail: format!("not JSON: {e}"),
    })
}

fn ip_batch(ns: &str, family: &str, lines: &[String]) -> Result<()> {
    if lines.is_empty() {
        return Ok(());
    }
    let mut cmd = Command::new("ip");
    cmd.args([family, "-n", ns, "-batch", "-"]);
    let input = lines.join("\n") + "\n";
    run_checked(
        cmd,
        input.as_bytes(),
        format!("ip -batch in {ns}"),
        format!("routing in {ns} ({})", lines.join("; ")),
    )
    .map(drop)
}

fn sync_routes(
    state: &LabState,
    names: &Names,
    snap: &Snapshot,
    memo: &mut Memo,
    r: &mut Report,
) -> Result<()> {
    let router = names.router();
    let gw = routes::Gateways {
        igw_if: "igw0".into(),
        igw_v4: plan::TRANSIT_IGW_V4,
        igw_v6: LL_DOWN,
        eigw_if: "eigw0".into(),
        eigw_v6: LL_DOWN,
    };
    let links = links(state, names, snap, r);
    let p = routes::plan(snap, &links, &gw);
    r.problems.extend(p.problems.iter().cloned());
    let subnets: Vec<(String, ipnet::Ipv6Net)> = state
        .vpc
        .iter()
        .flat_map(|v| v.subnets.iter())
        .filter_map(|s| Some((s.id.clone(), s.ipv6.parse().ok()?)))
        .collect();
    // The internet reaches a subnet over the internet gateway only if its table says so.
    let want = routes::igw_inbound(snap, &subnets);
    let routing = Routing {
        plan: p,
        subnets,
        inbound: want,
    };
    if memo.routing.as_ref() == Some(&routing) {
        return Ok(());
    }
    // Until this pass has applied everything, nothing is known to be in place.
    memo.routing = None;
    let Routing {
        plan: p,
        subnets,
        inbound: want,
    } = &routing;
    for (v6, fam) in [(false, "-4"), (true, "-6")] {
        let cur = routes::kernel_routes(
            &ip_json(&router, &[fam, "route", "show", "table", "all"])?,
            v6,
        );
        let rules = routes::kernel_rules(&ip_json(&router, &[fam, "rule", "show"])?);
        let lines = routes::diff(p, v6, &cur, &rules);
        if !lines.is_empty() {
            quick_icmp_errors(&router)?;
            ip_batch(&router, fam, &lines)?;
            r.changed.push(format!("{router}: {}", lines.join("; ")));
        }
    }
    router_addresses(&router, subnets, r)?;
    let inet = names.internet();
    let cur: Vec<ipnet::Ipv6Net> = ip_json(&inet, &["-6", "route", "show", "dev", "igw0"])?
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["dst"].as_str()?.parse::<ipnet::Ipv6Net>().ok())
        .filter(|n| subnets.iter().any(|(_, s)| s == n))
        .collect();
    let mut lines: Vec<String> = want
        .iter()
        .filter(|n| !cur.contains(n))
        .map(|n| format!("route replace {n} via {LL_UP} dev igw0"))
        .collect();
    lines.extend(
        cur.iter()
            .filter(|n| !want.contains(n))
            .map(|n| format!("route del {n} dev igw0")),
    );
    if !lines.is_empty() {
        ip_batch(&inet, "-6", &lines)?;
        r.changed.push(format!("{inet}: {}", lines.join("; ")));
    }
    memo.routing = Some(routing);
    Ok(())
}

/// The router's own address in each subnet, `<subnet>::1` (EC2 reserves it for the VPC router),
/// on its loopback: the source of the ICMPv6 errors it sends (a link-local source could not be
/// forwarded by the node to the pod that caused the error).
fn router_addresses(
    router: &str,
    subnets: &[(String, ipnet::Ipv6Net)],
    r: &mut Report,
) -> Result<()> {
    let have: Vec<String> = ip_json(router, &["-6", "addr", "show", "dev", "lo"])?
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|l| l["addr_info"].as_array().cloned().unwrap_or_default())
        .filter_map(|a| a["local"].as_str().map(str::to_owned))
        .collect();
    let lines: Vec<String> = subnets
        .iter()
        .map(|(_, n)| std::net::Ipv6Addr::from(u128::from(n.network()) | 1))
        .filter(|a| !have.contains(&a.to_string()))
        .map(|a| format!("address replace {a}/128 dev lo nodad"))
        .collect();
    if !lines.is_empty() {
        ip_batch(router, "-6", &lines)?;
        r.changed.push(format!("{router}: {}", lines.join("; ")));
    }
    Ok(())
}

/// The router answers a packet it has no route for with an ICMP error at once (the kernel's
/// per-destination rate limit would swallow the first one, and the sender would only learn of it
/// on its retry a second later).
fn quick_icmp_errors(router: &str) -> Result<()> {
    let h = dataplane::netns::NetNs::by_name(router)
        .map_err(LabError::dp(format!("opening {router}")))?;
    h.run(|| -> dataplane::error::Result<()> {
        for k in ["net.ipv6.icmp.ratelimit", "net.ipv4.icmp_ratelimit"] {
            dataplane::sysctl::write(&dataplane::sysctl::Key::parse(k)?, "0")?;
        }
        Ok(())
    })
    .map_err(LabError::dp(format!("entering {router}")))?
    .map_err(LabError::dp(format!("ICMP rate limits in {router}")))
}

/// Apply an `nft -f` script inside namespace `ns`.
pub fn nft(ns: &str, script: &str) -> Result<()> {
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", ns, "nft", "-f", "-"]);
    run_checked(
        cmd,
        script.as_bytes(),
        format!("nft -f in {ns} (is nftables installed?)"),
        format!("security groups in {ns}"),
    )
    .map(drop)
}

/// Run `cmd` with `input` on its stdin (bounded by `CMD_TIMEOUT`): its output when it exits 0;
/// `LabError::Exec` naming `spawn` when it cannot run, `LabError::Command` naming `failed` with
/// its stderr when it exits non-zero.
fn run_checked(
    cmd: Command,
    input: &[u8],
    spawn: String,
    failed: String,
) -> Result<dataplane::exec::Output> {
    let out = dataplane::exec::run(cmd, input, CMD_TIMEOUT).map_err(|source| LabError::Exec {
        what: spawn,
        source,
    })?;
    if out.status.success() {
        Ok(out)
    } else {
        Err(LabError::Command {
            what: failed,
            detail: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        })
    }
}

fn sync_groups(state: &LabState, snap: &Snapshot, memo: &mut Memo, r: &mut Report) -> Result<()> {
    for n in &state.nodes {
        let Some(primary) = snap.eni(&n.eni) else {
            continue;
        };
        let branches: Vec<(&model::Eni, String)> = state
            .pods
            .iter()
            .filter(|p| p.node == n.name)
            .filter_map(|p| p.branch_eni.as_deref())
            .filter_map(|id| snap.eni(id).map(|e| (e, sg::branch_veth(id))))
            .collect();
        let script = sg::ruleset(snap, primary, "eth0", &branches);
        if memo.rulesets.get(&n.netns) == Some(&script) {
            continue;
        }
        nft(&n.netns, &script)?;
        memo.rulesets.insert(n.netns.clone(), script);
        r.changed.push(format!("{}: security groups", n.netns));
    }
    Ok(())
}
