//! The plan as text: a summary with the findings (id, resource at fault, fix) above the drawing,
//! and tables of every address below it. Every address the drawing shows is here as plain text,
//! for the browser's find and for screen readers. Large plans list pods as one text block per
//! node (inside a collapsed `<details>`) to keep the DOM lean.

use std::fmt::Write;

use super::{COMPACT_PODS, esc};
use crate::build::EGRESS_V4;
use crate::model::*;

/// The summary line, the legend and the findings list.
pub fn summary(out: &mut String, plan: &Plan) {
    let (nodes, pods) = plan.counts();
    let subnets: usize = plan.vpcs.iter().map(|v| v.subnets.len()).sum();
    let services: usize = plan.clusters.iter().map(|c| c.services.len()).sum();
    let ok = plan.paths.iter().filter(|p| p.ok).count();
    let paths = if plan.paths.is_empty() {
        String::new()
    } else {
        format!(" · paths proven {ok} of {}", plan.paths.len())
    };
    let _ = write!(
        out,
        r#"<p id="counts">{}: {} VPC, {subnets} subnets, {nodes} nodes, {pods} pods, {} clusters, {services} services · {} findings{paths}</p>"#,
        esc(&plan.title),
        plan.vpcs.len(),
        plan.clusters.len(),
        plan.findings.len(),
    );
    out.push_str(LEGEND);
    if plan.findings.is_empty() {
        out.push_str(r#"<p class="ok">No health issues or preflight findings.</p>"#);
        return;
    }
    out.push_str(r#"<ul id="findings" aria-label="findings">"#);
    for f in &plan.findings {
        let _ = write!(
            out,
            r#"<li><span class="fid">{}</span> <span class="code">[{}]</span> on <code>{}</code> (cluster {}): {} <b>Fix:</b> {}</li>"#,
            esc(&f.id),
            esc(&f.code),
            esc(&f.resource_ids.join(", ")),
            esc(&f.cluster),
            esc(&f.what),
            esc(f.fix.as_deref().unwrap_or("see the message"))
        );
    }
    out.push_str("</ul>");
}

const LEGEND: &str = r##"<svg class="legend" viewBox="0 0 1000 20" width="1000" height="20" role="img" aria-label="legend: hexagon internet gateway, arrow egress-only gateway, square pod, diamond Fargate pod, triangle cluster DNS, blue square ClusterIP, hatched IPv4 egress, octagon finding"><polygon class="igw" points="4,2 14,2 18,10 14,18 4,18 0,10"/><text x="22" y="14">internet gateway</text><polygon class="eigw" transform="translate(130,1)" points="9,0 18,9 13,9 13,17 5,17 5,9 0,9"/><text x="152" y="14">egress-only gateway</text><rect class="pc" x="285" y="4" width="11" height="11"/><text x="300" y="14">pod /128</text><polygon class="fg" transform="translate(365,3)" points="7,0 14,7 7,14 0,7"/><text x="383" y="14">Fargate pod</text><polygon class="dns" transform="translate(470,3)" points="7,0 14,13 0,13"/><text x="488" y="14">cluster DNS ::a</text><rect class="sv" x="590" y="4" width="11" height="11"/><text x="606" y="14">ClusterIP</text><rect x="680" y="4" width="30" height="12" fill="url(#hatch)" stroke="#555" stroke-dasharray="3 2"/><text x="715" y="14">IPv4 egress (node-local)</text><polygon class="mk" transform="translate(895,2)" points="5,0 11,0 16,5 16,11 11,16 5,16 0,11 0,5"/><text x="915" y="14">finding</text></svg>"##;

fn row(out: &mut String, cells: &[&str]) {
    out.push_str("<tr>");
    for c in cells {
        let _ = write!(out, "<td>{}</td>", esc(c));
    }
    out.push_str("</tr>");
}

fn head(out: &mut String, caption: &str, cols: &[&str]) {
    let _ = write!(out, "<table><caption>{}</caption><thead><tr>", esc(caption));
    for c in cols {
        let _ = write!(out, r#"<th scope="col">{}</th>"#, esc(c));
    }
    out.push_str("</tr></thead><tbody>");
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map(|x| x.to_string()).unwrap_or_else(|| "-".into())
}

/// Every address as text.
pub fn tables(out: &mut String, plan: &Plan) {
    let compact = plan.counts().1 > COMPACT_PODS;
    // Large plans keep the tables collapsed (parsed, not laid out); find-in-page opens them.
    let open = if compact { "" } else { " open" };
    let _ = write!(
        out,
        r#"<details id="text"{open}><summary>Every address as text</summary>"#
    );
    head(
        out,
        "VPCs and subnets",
        &[
            "resource",
            "zone",
            "IPv6",
            "IPv4",
            "route table",
            "IPv6 auto-assign",
        ],
    );
    for v in &plan.vpcs {
        let v6: Vec<String> = v.ipv6.iter().map(ToString::to_string).collect();
        let v4: Vec<String> = v.ipv4.iter().map(ToString::to_string).collect();
        row(out, &[&v.id, "", &v6.join(", "), &v4.join(", "), "", ""]);
        for s in &v.subnets {
            row(
                out,
                &[
                    &s.id,
                    &s.zone,
                    &opt(s.ipv6),
                    &opt(s.ipv4),
                    s.route_table.as_deref().unwrap_or("-"),
                    if s.assign_ipv6 { "on" } else { "off" },
                ],
            );
        }
    }
    out.push_str("</tbody></table>");
    head(
        out,
        "Gateways and the traffic they carry",
        &["gateway", "kind", "routes"],
    );
    for g in plan.vpcs.iter().flat_map(|v| &v.gateways) {
        let kind = match g.kind {
            GatewayKind::Internet => {
                "internet gateway: IPv4 translated to a public IPv4, IPv6 both ways"
            }
            GatewayKind::EgressOnly => "egress-only: IPv6 out and replies only",
        };
        let routes: Vec<String> = g.routes.iter().map(|(t, d)| format!("{t}: {d}")).collect();
        row(out, &[&g.id, kind, &routes.join("; ")]);
    }
    out.push_str("</tbody></table>");
    head(
        out,
        "Nodes",
        &[
            "node",
            "instance",
            "ENI",
            "delegated /80",
            "node IPv6",
            "IPv4",
            "public IPv4",
            "IPv4 egress",
            "pods",
        ],
    );
    for s in plan.vpcs.iter().flat_map(|v| &v.subnets) {
        for n in &s.nodes {
            let p80: Vec<String> = n.prefixes.iter().map(ToString::to_string).collect();
            row(
                out,
                &[
                    &n.name,
                    &n.instance_id,
                    n.eni.as_deref().unwrap_or("-"),
                    &p80.join(", "),
                    &opt(n.ipv6),
                    &opt(n.ipv4),
                    &opt(n.public_ipv4),
                    &format!("{EGRESS_V4} → SNAT {}", opt(n.ipv4)),
                    &n.pods.len().to_string(),
                ],
            );
        }
    }
    out.push_str("</tbody></table>");
    pods(out, plan, compact);
    head(
        out,
        "Services",
        &[
            "cluster",
            "service",
            "ClusterIP",
            "port",
            "DNS name",
            "backends",
        ],
    );
    for c in &plan.clusters {
        let cidr = opt(c.service_cidr);
        row(out, &[&c.name, "service CIDR", &cidr, "", "", ""]);
        row(
            out,
            &[&c.name, "cluster DNS", &opt(c.dns), "53", "kube-dns", ""],
        );
        for s in &c.services {
            row(
                out,
                &[
                    &c.name,
                    &format!("{}/{}", s.namespace, s.name),
                    &s.cluster_ip.to_string(),
                    &format!("{}→{}", s.port, s.target_port),
                    &s.dns_name,
                    &s.backends.join(", "),
                ],
            );
        }
    }
    out.push_str("</tbody></table>");
    if !plan.paths.is_empty() {
        head(
            out,
            "Paths the lab proved with real packets",
            &["path", "from", "to", "result", "seen"],
        );
        for p in &plan.paths {
            let result = if p.ok { "✓ ok" } else { "✗ FAILED" };
            row(out, &[&p.path, &p.from, &p.to, result, &p.seen]);
        }
        out.push_str("</tbody></table>");
    }
    out.push_str("</details>");
}

/// One pod of the compact list: `namespace/name ipv6 ipv4`.
fn pod_line(out: &mut String, p: &Pod) {
    let _ = writeln!(
        out,
        "{}/{} {} {}",
        esc(&p.namespace),
        esc(&p.name),
        p.ipv6,
        opt(p.ipv4)
    );
}

fn pods(out: &mut String, plan: &Plan, compact: bool) {
    let subnets = || plan.vpcs.iter().flat_map(|v| &v.subnets);
    if compact {
        out.push_str("<h3>Pods</h3>");
        for s in subnets() {
            for n in &s.nodes {
                let _ = write!(
                    out,
                    r#"<details class="pods"><summary>{} pods of {} in {}</summary><pre id="pods-{}">"#,
                    n.pods.len(),
                    esc(&n.name),
                    opt(n.prefixes.first()),
                    esc(&n.instance_id)
                );
                for p in &n.pods {
                    pod_line(out, p);
                }
                out.push_str("</pre></details>");
            }
            if !s.fargate.is_empty() {
                let _ = writeln!(out, "<pre>Fargate pods of {}", esc(&s.id));
                for p in &s.fargate {
                    pod_line(out, p);
                }
                out.push_str("</pre>");
            }
        }
        return;
    }
    head(out, "Pods", &["pod", "node", "IPv6 (/128)", "IPv4"]);
    for s in subnets() {
        for n in &s.nodes {
            for p in &n.pods {
                row(
                    out,
                    &[
                        &format!("{}/{}", p.namespace, p.name),
                        &n.name,
                        &p.ipv6.to_string(),
                        &format!("{} (node-local egress)", opt(p.ipv4)),
                    ],
                );
            }
        }
        for p in &s.fargate {
            row(
                out,
                &[
                    &format!("{}/{}", p.namespace, p.name),
                    &format!("Fargate in {}", s.id),
                    &p.ipv6.to_string(),
                    &format!("{} (own)", opt(p.ipv4)),
                ],
            );
        }
    }
    out.push_str("</tbody></table>");
}
