//! Per-subnet routing in the VPC router, derived from the region's route tables (pure).
//!
//! Every route table becomes one kernel routing table in the router namespace (ids from
//! [`TABLE_BASE`], in route-table id order). For every router link towards a subnet's unit (a
//! node, a Fargate unit) two policy rules pick its table: `pref 1000 iif LINK lookup main
//! suppress_prefixlength 0` (the VPC's own addresses: every node's /32, /128 and /80 live in the
//! main table) and `pref 1001 iif LINK lookup TABLE`. A table holds the route table's routes (to
//! the gateways' links; `local` and unknown targets as `unreachable`) and ends with
//! `unreachable default` for a family the route table has no default route for, so a subnet
//! without `::/0` gets an ICMPv6 "no route" (ENETUNREACH) instead of the main table's defaults.
//!
//! Inbound from the internet: the internet host routes a subnet's /64 over the internet gateway
//! only when that subnet's table sends `::/0` to the internet gateway; everything else of the
//! VPC stays behind the egress-only gateway, which refuses unsolicited connections.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv6Net};
use serde_json::Value;

use super::model::{Snapshot, Target};

/// The first kernel table id used for route tables.
pub const TABLE_BASE: u32 = 1000;
/// The most route tables the router mirrors (table ids `TABLE_BASE..TABLE_BASE + MAX_TABLES`).
pub const MAX_TABLES: u32 = 1000;
/// Rule priority of the VPC-local lookup (main table without its default routes).
pub const PREF_LOCAL: u32 = 1000;
/// Rule priority of the subnet's route table.
pub const PREF_TABLE: u32 = 1001;

/// A router link towards a unit in a subnet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// The router's interface (`node1`, `fg1`).
    pub router_if: String,
    pub subnet: String,
}

/// The router's links to the gateways.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gateways {
    pub igw_if: String,
    pub igw_v4: Ipv4Addr,
    pub igw_v6: Ipv6Addr,
    pub eigw_if: String,
    pub eigw_v6: Ipv6Addr,
}

/// What a kernel route does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Via { gw: IpAddr, dev: String },
    Unreachable,
}

/// The router's routing, as it should be.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoutePlan {
    /// Kernel table id → destination → action.
    pub tables: BTreeMap<u32, BTreeMap<IpNet, Action>>,
    /// (router interface, kernel table id).
    pub links: Vec<(String, u32)>,
    /// Route tables without a kernel table (more than [`MAX_TABLES`]) or links whose subnet has
    /// no route table: reported, their links get no rules.
    pub problems: Vec<String>,
}

fn default_of(v6: bool) -> IpNet {
    if v6 {
        IpNet::V6(Ipv6Net::default())
    } else {
        IpNet::V4(ipnet::Ipv4Net::default())
    }
}

/// The routing for `links` as `snap`'s route tables say.
pub fn plan(snap: &Snapshot, links: &[Link], gw: &Gateways) -> RoutePlan {
    let mut out = RoutePlan::default();
    let mut ids: Vec<&str> = snap.route_tables.iter().map(|t| t.id.as_str()).collect();
    ids.sort_unstable();
    let table_id = |rtb: &str| {
        ids.iter()
            .position(|i| *i == rtb)
            .and_then(|p| u32::try_from(p).ok())
            .filter(|p| *p < MAX_TABLES)
            .map(|p| TABLE_BASE + p)
    };
    for t in &snap.route_tables {
        let Some(id) = table_id(&t.id) else {
            out.problems
                .push(format!("{}: more than {MAX_TABLES} route tables", t.id));
            continue;
        };
        let mut routes = BTreeMap::new();
        for r in &t.routes {
            let v6 = r.destination.addr().is_ipv6();
            let action = match (&r.target, v6) {
                (Target::InternetGateway(_), false) => Action::Via {
                    gw: IpAddr::V4(gw.igw_v4),
                    dev: gw.igw_if.clone(),
                },
                (Target::InternetGateway(_), true) => Action::Via {
                    gw: IpAddr::V6(gw.igw_v6),
                    dev: gw.igw_if.clone(),
                },
                (Target::EgressOnly(_), true) => Action::Via {
                    gw: IpAddr::V6(gw.eigw_v6),
                    dev: gw.eigw_if.clone(),
                },
                // `local`: the VPC's known addresses are found in the main table first.
                _ => Action::Unreachable,
            };
            routes.insert(r.destination.trunc(), action);
        }
        for v6 in [false, true] {
            routes.entry(default_of(v6)).or_insert(Action::Unreachable);
        }
        out.tables.insert(id, routes);
    }
    for l in links {
        match snap.table_of(&l.subnet).and_then(|t| table_id(&t.id)) {
            Some(id) => out.links.push((l.router_if.clone(), id)),
            None => out.problems.push(format!(
                "{} (subnet {}) has no route table",
                l.router_if, l.subnet
            )),
        }
    }
    out
}

/// The subnets' IPv6 blocks the internet reaches through the internet gateway: those whose
/// route table sends `::/0` to an internet gateway.
pub fn igw_inbound(snap: &Snapshot, subnets: &[(String, Ipv6Net)]) -> Vec<Ipv6Net> {
    let mut v: Vec<Ipv6Net> = subnets
        .iter()
        .filter(|(id, _)| {
            snap.table_of(id).is_some_and(|t| {
                t.routes.iter().any(|r| {
                    r.destination == default_of(true)
                        && matches!(r.target, Target::InternetGateway(_))
                })
            })
        })
        .map(|(_, n)| *n)
        .collect();
    v.sort();
    v.dedup();
    v
}

fn route_line(verb: &str, table: u32, dst: &IpNet, a: &Action) -> String {
    match a {
        Action::Via { gw, dev } => {
            format!("route {verb} {dst} via {gw} dev {dev} table {table}")
        }
        Action::Unreachable => format!("route {verb} unreachable {dst} table {table}"),
    }
}

fn parse_dst(v: &Value, v6: bool) -> Option<IpNet> {
    let s = v["dst"].as_str()?;
    if s == "default" {
        return Some(default_of(v6));
    }
    s.parse::<IpNet>()
        .ok()
        .or_else(|| s.parse::<IpAddr>().ok().map(IpNet::from))
}

/// The router's routes in our tables, from `ip -j -4|-6 route show table all`.
pub fn kernel_routes(json: &Value, v6: bool) -> BTreeMap<(u32, IpNet), Action> {
    let mut out = BTreeMap::new();
    for r in json.as_array().into_iter().flatten() {
        let Some(table) = r["table"].as_str().and_then(|t| t.parse::<u32>().ok()) else {
            continue;
        };
        if !(TABLE_BASE..TABLE_BASE + MAX_TABLES).contains(&table) {
            continue;
        }
        let Some(dst) = parse_dst(r, v6) else {
            continue;
        };
        let action = match (r["type"].as_str(), r["gateway"].as_str(), r["dev"].as_str()) {
            (Some("unreachable"), _, _) => Action::Unreachable,
            (_, Some(g), Some(d)) => match g.parse() {
                Ok(gw) => Action::Via {
                    gw,
                    dev: d.to_owned(),
                },
                Err(_) => continue,
            },
            _ => Action::Unreachable,
        };
        out.insert((table, dst), action);
    }
    out
}

/// Our policy rules, from `ip -j -4|-6 rule show`: (priority, iif, table).
pub fn kernel_rules(json: &Value) -> BTreeSet<(u32, String, String)> {
    json.as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| {
            let p = u32::try_from(r["priority"].as_u64()?).ok()?;
            if p != PREF_LOCAL && p != PREF_TABLE {
                return None;
            }
            Some((
                p,
                r["iif"].as_str()?.to_owned(),
                r["table"].as_str()?.to_owned(),
            ))
        })
        .collect()
}

/// The `ip -batch` lines (for one family) that turn the kernel's routes and rules into the
/// plan's: new and changed routes first (`replace`, atomic per route), then rules added, then
/// stale rules and routes removed. Empty when the kernel already matches.
pub fn diff(
    plan: &RoutePlan,
    v6: bool,
    routes: &BTreeMap<(u32, IpNet), Action>,
    rules: &BTreeSet<(u32, String, String)>,
) -> Vec<String> {
    let mut lines = Vec::new();
    let mut want = BTreeMap::new();
    for (table, rs) in &plan.tables {
        for (dst, a) in rs.iter().filter(|(d, _)| d.addr().is_ipv6() == v6) {
            want.insert((*table, *dst), a.clone());
            if routes.get(&(*table, *dst)) != Some(a) {
                lines.push(route_line("replace", *table, dst, a));
            }
        }
    }
    let mut want_rules = BTreeSet::new();
    for (dev, table) in &plan.links {
        want_rules.insert((PREF_LOCAL, dev.clone(), "main".to_owned()));
        want_rules.insert((PREF_TABLE, dev.clone(), table.to_string()));
    }
    for (p, dev, table) in want_rules.difference(rules) {
        let extra = if table == "main" {
            " suppress_prefixlength 0"
        } else {
            ""
        };
        lines.push(format!("rule add pref {p} iif {dev} lookup {table}{extra}"));
    }
    for (p, dev, table) in rules.difference(&want_rules) {
        lines.push(format!("rule del pref {p} iif {dev} lookup {table}"));
    }
    for (table, dst) in routes.keys().filter(|k| !want.contains_key(k)) {
        lines.push(format!("route del {dst} table {table}"));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::super::model::{Route, RouteTable};
    use super::*;

    fn gw() -> Gateways {
        Gateways {
            igw_if: "igw0".into(),
            igw_v4: "10.0.255.2".parse().unwrap(),
            igw_v6: "fe80::2".parse().unwrap(),
            eigw_if: "eigw0".into(),
            eigw_v6: "fe80::2".parse().unwrap(),
        }
    }

    fn rt(id: &str, main: bool, subnets: &[&str], routes: &[(&str, Target)]) -> RouteTable {
        RouteTable {
            id: id.into(),
            main,
            subnets: subnets.iter().map(|s| (*s).to_owned()).collect(),
            routes: routes
                .iter()
                .map(|(d, t)| Route {
                    destination: d.parse().unwrap(),
                    target: t.clone(),
                })
                .collect(),
        }
    }

    fn snap() -> Snapshot {
        Snapshot {
            route_tables: vec![
                rt("rtb-b", true, &[], &[("2001:db8::/56", Target::Local)]),
                rt(
                    "rtb-a",
                    false,
                    &["subnet-1"],
                    &[
                        ("10.0.0.0/16", Target::Local),
                        ("::/0", Target::EgressOnly("eigw-1".into())),
                        ("0.0.0.0/0", Target::InternetGateway("igw-1".into())),
                    ],
                ),
            ],
            ..Default::default()
        }
    }

    fn links() -> Vec<Link> {
        vec![
            Link {
                router_if: "node1".into(),
                subnet: "subnet-1".into(),
            },
            Link {
                router_if: "node2".into(),
                subnet: "subnet-2".into(),
            },
        ]
    }

    #[test]
    fn each_subnet_uses_its_route_table_and_unassociated_ones_the_main_table() {
        let p = plan(&snap(), &links(), &gw());
        assert_eq!(p.links, [("node1".into(), 1000), ("node2".into(), 1001)]);
        let a = &p.tables[&1000];
        assert_eq!(
            a[&"::/0".parse().unwrap()],
            Action::Via {
                gw: "fe80::2".parse().unwrap(),
                dev: "eigw0".into()
            }
        );
        assert_eq!(a[&"10.0.0.0/16".parse().unwrap()], Action::Unreachable);
        // The main table has no default routes: both families end unreachable.
        let b = &p.tables[&1001];
        assert_eq!(b[&"::/0".parse().unwrap()], Action::Unreachable);
        assert_eq!(b[&"0.0.0.0/0".parse().unwrap()], Action::Unreachable);
    }

    #[test]
    fn deleting_the_default_route_makes_it_unreachable_and_igw_opens_inbound() {
        let mut s = snap();
        s.route_tables[1]
            .routes
            .retain(|r| !r.destination.addr().is_ipv6());
        let p = plan(&s, &links(), &gw());
        assert_eq!(
            p.tables[&1000][&"::/0".parse().unwrap()],
            Action::Unreachable
        );
        let subnets = vec![("subnet-1".to_owned(), "2001:db8:0:1::/64".parse().unwrap())];
        assert!(igw_inbound(&s, &subnets).is_empty());
        s.route_tables[1].routes.push(Route {
            destination: "::/0".parse().unwrap(),
            target: Target::InternetGateway("igw-1".into()),
        });
        assert_eq!(igw_inbound(&s, &subnets), [subnets[0].1]);
        let p = plan(&s, &links(), &gw());
        assert_eq!(
            p.tables[&1000][&"::/0".parse().unwrap()],
            Action::Via {
                gw: "fe80::2".parse().unwrap(),
                dev: "igw0".into()
            }
        );
    }

    #[test]
    fn diff_is_empty_when_the_kernel_matches_and_replaces_what_changed() {
        let p = plan(&snap(), &links(), &gw());
        let first = diff(&p, true, &BTreeMap::new(), &BTreeSet::new());
        assert!(first.contains(&"route replace ::/0 via fe80::2 dev eigw0 table 1000".into()));
        assert!(
            first.contains(
                &"rule add pref 1000 iif node1 lookup main suppress_prefixlength 0".into()
            )
        );
        assert!(first.contains(&"rule add pref 1001 iif node2 lookup 1001".into()));
        // What `ip -j` prints for the applied state.
        let routes = kernel_routes(
            &serde_json::json!([
                {"type": "unreachable", "dst": "2001:db8::/56", "dev": "lo", "table": "1001"},
                {"dst": "default", "gateway": "fe80::2", "dev": "eigw0", "table": "1000"},
                {"type": "unreachable", "dst": "default", "dev": "lo", "table": "1001"},
                {"dst": "default", "gateway": "fe80::2", "dev": "eigw0"},
            ]),
            true,
        );
        let rules = kernel_rules(&serde_json::json!([
            {"priority": 0, "src": "all", "table": "local"},
            {"priority": 1000, "src": "all", "iif": "node1", "table": "main", "suppress_prefixlength": 0},
            {"priority": 1001, "src": "all", "iif": "node1", "table": "1000"},
            {"priority": 1000, "src": "all", "iif": "node2", "table": "main", "suppress_prefixlength": 0},
            {"priority": 1001, "src": "all", "iif": "node2", "table": "1001"},
        ]));
        assert_eq!(diff(&p, true, &routes, &rules), Vec::<String>::new());
        // The ::/0 route deleted in the region: replaced by unreachable, nothing else touched.
        let mut s = snap();
        s.route_tables[1]
            .routes
            .retain(|r| r.destination.to_string() != "::/0");
        let p2 = plan(&s, &links(), &gw());
        assert_eq!(
            diff(&p2, true, &routes, &rules),
            ["route replace unreachable ::/0 table 1000"]
        );
        // A link gone: its rules removed.
        let p3 = plan(&snap(), &links()[..1], &gw());
        let d = diff(&p3, true, &routes, &rules);
        assert_eq!(
            d,
            [
                "rule del pref 1000 iif node2 lookup main",
                "rule del pref 1001 iif node2 lookup 1001"
            ]
        );
    }
}
