//! The cluster's box: the service /108 apart from the VPC, its ruler with the cluster DNS
//! (`::a`) and the ClusterIPs, one line per service, and the findings on resources that have no
//! box of their own (IAM roles, node groups).

use std::fmt::Write;

use super::svg::{LINE, PAD, Piece, RULER, W, fault, line, ruler};
use super::{esc, focus_attrs};
use crate::layout::addr_fraction;
use crate::model::*;

pub(super) fn cluster(plan: &Plan, c: &Cluster) -> Piece {
    let mut s = String::new();
    let inner = W - 2.0 * PAD;
    let mut y = 18.0;
    let ngs = if c.nodegroups.is_empty() {
        String::new()
    } else {
        format!(" · node groups {}", c.nodegroups.join(", "))
    };
    line(
        &mut s,
        PAD,
        y,
        "h",
        &format!(
            "EKS cluster {} · {} · {}{ngs}",
            c.name, c.ip_family, c.status
        ),
    );
    y += LINE + 2.0;
    let cidr = c.service_cidr.map(|n| n.to_string());
    let dns = c.dns.map(|a| a.to_string());
    line(
        &mut s,
        PAD,
        y,
        "t",
        &format!(
            "services {} (unique-local /108, chosen by the service, apart from the VPC) · cluster DNS {}",
            cidr.as_deref().unwrap_or("-"),
            dns.as_deref().unwrap_or("-")
        ),
    );
    y += 10.0;
    if let Some(n) = c.service_cidr {
        let mut marks: Vec<(f64, f64, &str)> = Vec::new();
        if let Some(f) = c.dns.and_then(|a| addr_fraction(n, a)) {
            marks.push((f, 0.0, "m-dns"));
        }
        for sv in &c.services {
            if let Some(f) = addr_fraction(n, sv.cluster_ip) {
                marks.push((f, 0.0, "m-svc"));
            }
        }
        ruler(&mut s, PAD, y, inner, &marks);
        y += RULER + 6.0;
    }
    y = service_rows(&mut s, c, dns.as_deref(), y);
    let drawn = plan.drawn_ids();
    y = finding_rows(&mut s, plan, c, &drawn, y);
    let h = y + 8.0;
    let extra: Vec<&str> = plan
        .findings
        .iter()
        .filter(|f| f.cluster == c.name)
        .flat_map(|f| f.resource_ids.iter().map(String::as_str))
        .filter(|r| !drawn.contains(r))
        .chain([c.name.as_str()])
        .collect();
    fault(&mut s, plan, &extra, W, h);
    let mut out = String::from(r#"<g class="cluster""#);
    focus_attrs(
        &mut out,
        &format!("cluster {}", c.name),
        &[
            format!("EKS cluster {} ({}, {})", c.name, c.ip_family, c.status),
            format!("service CIDR {}", cidr.as_deref().unwrap_or("-")),
            format!("VPC {}", c.vpc_id.as_deref().unwrap_or("-")),
            format!("subnets {}", c.subnet_ids.join(", ")),
            format!("{} services", c.services.len()),
        ],
    );
    let _ = write!(
        out,
        r#"><rect class="cl" width="{W}" height="{h:.1}" rx="6"/>{s}</g>"#
    );
    Piece { svg: out, h }
}

/// The cluster DNS line and one line per service, from `y`; returns the `y` below them.
fn service_rows(s: &mut String, c: &Cluster, dns: Option<&str>, mut y: f64) -> f64 {
    if let Some(d) = dns {
        let _ = write!(s, r#"<g class="svc" transform="translate({PAD},{y:.1})""#);
        focus_attrs(
            s,
            &format!("cluster DNS {d}"),
            &[
                format!("cluster DNS {d}"),
                "the service prefix with last hextet a".to_owned(),
            ],
        );
        let _ = write!(
            s,
            r#"><polygon class="dns" points="6,0 12,11 0,11"/><text x="18" y="10" class="a">{d} cluster DNS (kube-dns)</text></g>"#
        );
        y += LINE;
    }
    for sv in &c.services {
        let lines = vec![
            format!("service {}/{}", sv.namespace, sv.name),
            format!("ClusterIP {}", sv.cluster_ip),
            format!("port {} → {}", sv.port, sv.target_port),
            format!("DNS {}", sv.dns_name),
            format!("backends {}", sv.backends.join(", ")),
        ];
        let _ = write!(s, r#"<g class="svc" transform="translate({PAD},{y:.1})""#);
        focus_attrs(s, &format!("service {} {}", sv.name, sv.cluster_ip), &lines);
        let _ = write!(
            s,
            r#"><rect class="sv" width="11" height="11"/><text x="18" y="10" class="a">{} {}/{} :{}→{} {} → {}</text></g>"#,
            sv.cluster_ip,
            esc(&sv.namespace),
            esc(&sv.name),
            sv.port,
            sv.target_port,
            esc(&sv.dns_name),
            esc(&sv.backends.join(", "))
        );
        y += LINE;
    }
    y
}

/// The findings on resources the drawing has no box for (security groups, roles, node groups),
/// each with its fix, from `y`; returns the `y` below them.
fn finding_rows(s: &mut String, plan: &Plan, c: &Cluster, drawn: &[&str], mut y: f64) -> f64 {
    for f in plan.findings.iter().filter(|f| f.cluster == c.name) {
        let elsewhere: Vec<&str> = f
            .resource_ids
            .iter()
            .map(String::as_str)
            .filter(|r| !drawn.contains(r))
            .collect();
        if elsewhere.is_empty() && !f.resource_ids.is_empty() {
            continue;
        }
        y += 4.0;
        line(
            s,
            PAD + 20.0,
            y + 10.0,
            "fi",
            &format!("{} on {}: {}", f.id, elsewhere.join(", "), f.what),
        );
        let _ = write!(
            s,
            r#"<polygon class="mk" transform="translate({PAD},{y:.1})" points="5,0 11,0 16,5 16,11 11,16 5,16 0,11 0,5"/>"#
        );
        y += LINE;
        line(
            s,
            PAD + 20.0,
            y + 10.0,
            "s",
            &format!("Fix: {}", f.fix.as_deref().unwrap_or("see the message")),
        );
        y += LINE;
    }
    y
}
