//! The drawing: one inline SVG. Each prefix is a box inside its parent's box; above the children
//! a ruler spans the parent's whole address range and marks where each child sits (at its exact
//! offset, at least a few pixels wide), and a shaded lens joins each mark to the child's box. So a
//! /80 is seen inside its /64 inside the /56. Shapes and patterns, not colour alone, tell kinds
//! apart (Okabe–Ito palette): hexagon = internet gateway, one-way arrow = egress-only gateway,
//! square = pod, diamond = Fargate pod, triangle = cluster DNS, hatching = node-local IPv4,
//! octagon with "!" and a dashed outline = a finding.

use std::fmt::Write;

use ipnet::Ipv6Net;

use super::{COMPACT_PODS, esc, focus_attrs};
use crate::build::EGRESS_V4;
use crate::layout::{addr_fraction, place, slots, span};
use crate::model::*;

/// Width of the drawing (the SVG scales to its container).
pub(super) const W: f64 = 1000.0;
pub(super) const PAD: f64 = 10.0;
pub(super) const LINE: f64 = 15.0;
const GAP: f64 = 10.0;
pub(super) const RULER: f64 = 12.0;
const LENS: f64 = 26.0;

/// A rendered piece: its SVG (drawn at the origin) and its height.
pub(super) struct Piece {
    pub(super) svg: String,
    pub(super) h: f64,
}

pub(super) fn line(out: &mut String, x: f64, y: f64, class: &str, text: &str) {
    let _ = write!(
        out,
        r#"<text x="{x:.1}" y="{y:.1}" class="{class}">{}</text>"#,
        esc(text)
    );
}

/// The whole drawing.
pub fn drawing(out: &mut String, plan: &Plan) {
    let compact = plan.counts().1 > COMPACT_PODS;
    let mut body = String::new();
    let mut y = 0.0;
    if let Some((v4, v6)) = plan.internet {
        let _ = write!(
            body,
            r#"<g class="inet" transform="translate(0,0)"><rect width="{W}" height="26" rx="4"/>"#
        );
        line(
            &mut body,
            PAD,
            17.0,
            "t",
            &format!("internet (outside the VPC): {v4} · {v6}"),
        );
        body.push_str("</g>");
        y += 26.0 + GAP;
    }
    for v in &plan.vpcs {
        let p = vpc(plan, v, compact);
        let _ = write!(body, r#"<g transform="translate(0,{y:.1})">{}</g>"#, p.svg);
        y += p.h + GAP;
    }
    for c in &plan.clusters {
        let p = super::cluster::cluster(plan, c);
        let _ = write!(body, r#"<g transform="translate(0,{y:.1})">{}</g>"#, p.svg);
        y += p.h + GAP;
    }
    if plan.vpcs.is_empty() && plan.clusters.is_empty() {
        line(
            &mut body,
            PAD,
            20.0,
            "t",
            "nothing to draw: the region has no VPC and no cluster",
        );
        y = 30.0;
    }
    let _ = write!(
        out,
        r#"<svg id="drawing" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {y:.0}" width="{W}" height="{y:.0}" role="group" aria-label="address plan drawing">{DEFS}{body}</svg>"#
    );
}

const DEFS: &str = r##"<defs><pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="6" height="6" fill="#fff"/><line x1="0" y1="0" x2="0" y2="6" stroke="#999" stroke-width="2"/></pattern><pattern id="cells" width="7" height="7" patternUnits="userSpaceOnUse"><rect width="6" height="6" fill="#E69F00"/></pattern></defs>"##;

/// An outline and "!" marker when `id` has findings; the marker's text names their ids.
pub(super) fn fault(out: &mut String, plan: &Plan, ids: &[&str], w: f64, h: f64) {
    let found: Vec<&Finding> = plan
        .findings
        .iter()
        .filter(|f| f.resource_ids.iter().any(|r| ids.contains(&r.as_str())))
        .collect();
    if found.is_empty() {
        return;
    }
    let _ = write!(
        out,
        r#"<rect class="fault" x="-2" y="-2" width="{:.1}" height="{:.1}" rx="5"/>"#,
        w + 4.0,
        h + 4.0
    );
    let label: Vec<&str> = found.iter().map(|f| f.id.as_str()).collect();
    let lines: Vec<String> = found
        .iter()
        .map(|f| {
            format!(
                "{} on {}: {} Fix: {}",
                f.id,
                f.resource_ids.join(", "),
                f.what,
                f.fix.as_deref().unwrap_or("see the message")
            )
        })
        .collect();
    let x = (w - 24.0 - 7.0 * label.join(" ").len() as f64).max(0.0);
    // Inside the top-right corner of a box; beside a chip too small to hold it.
    let my = if h > 40.0 { -18.0 } else { 0.0 };
    let x = if h > 40.0 { x } else { w + 6.0 };
    out.push_str(r#"<g class="mark""#);
    focus_attrs(out, &format!("finding {}", label.join(" ")), &lines);
    let _ = write!(
        out,
        r#" transform="translate({x:.1},{my:.1})"><polygon points="5,0 11,0 16,5 16,11 11,16 5,16 0,11 0,5"/><text x="8" y="12" class="bang">!</text><rect class="fbg" x="18" y="1" width="{:.1}" height="14"/><text x="20" y="12" class="ft">{}</text></g>"#,
        6.8 * label.join(" ").len() as f64 + 4.0,
        esc(&label.join(" "))
    );
}

/// A ruler for `parent` with a mark per child span; returns the marks' `(x, w)`.
pub(super) fn ruler(
    out: &mut String,
    x: f64,
    y: f64,
    w: f64,
    marks: &[(f64, f64, &str)],
) -> Vec<(f64, f64)> {
    let _ = write!(
        out,
        r#"<rect class="ruler" x="{x:.1}" y="{y:.1}" width="{w:.1}" height="{RULER}"/>"#
    );
    let mut pos = Vec::new();
    for &(s, l, class) in marks {
        let mw = (l * w).max(3.0);
        let mx = (x + s * w).min(x + w - mw);
        let _ = write!(
            out,
            r#"<rect class="{class}" x="{mx:.1}" y="{y:.1}" width="{mw:.1}" height="{RULER}"/>"#
        );
        pos.push((mx, mw));
    }
    pos
}

/// A lens from a ruler mark down to a child's box.
fn lens(out: &mut String, mark: (f64, f64), y: f64, bx: f64, bw: f64, by: f64) {
    let _ = write!(
        out,
        r#"<polygon class="lens" points="{:.1},{:.1} {:.1},{:.1} {:.1},{:.1} {:.1},{:.1}"/>"#,
        mark.0,
        y,
        mark.0 + mark.1,
        y,
        bx + bw,
        by,
        bx,
        by
    );
}

fn gateway(out: &mut String, g: &Gateway, x: f64, y: f64, w: f64) {
    let routes: Vec<String> = g.routes.iter().map(|(_, d)| d.clone()).collect();
    let (kind, shape, carries) = match g.kind {
        GatewayKind::Internet => (
            "internet gateway",
            r#"<polygon class="igw" points="4,0 14,0 18,8 14,16 4,16 0,8"/>"#,
            "IPv4 translated to the node's public IPv4; IPv6 both ways",
        ),
        GatewayKind::EgressOnly => (
            "egress-only internet gateway",
            r#"<polygon class="eigw" points="9,0 18,9 13,9 13,16 5,16 5,9 0,9"/>"#,
            "IPv6 out (pod source kept) and replies; nothing unsolicited in",
        ),
    };
    let via = if routes.is_empty() {
        "carries nothing: no route targets it".to_owned()
    } else {
        format!("carries {}", routes.join(", "))
    };
    let lines = vec![
        format!("{} ({kind})", g.id),
        via.clone(),
        carries.to_owned(),
        g.routes
            .iter()
            .map(|(t, d)| format!("{t}: {d} → {}", g.id))
            .collect::<Vec<_>>()
            .join("; "),
    ];
    let _ = write!(out, r#"<g class="gw" transform="translate({x:.1},{y:.1})""#);
    focus_attrs(out, &format!("{} {kind}, {via}", g.id), &lines);
    out.push('>');
    out.push_str(shape);
    let _ = write!(
        out,
        r#"<text x="24" y="12" class="b">{} · {kind}</text><text x="24" y="27" class="s">{}</text><text x="24" y="40" class="s">{}</text></g>"#,
        esc(&g.id),
        esc(&via),
        esc(carries)
    );
    let _ = w;
}

fn vpc(plan: &Plan, v: &Vpc, compact: bool) -> Piece {
    let mut s = String::new();
    let inner = W - 2.0 * PAD;
    let mut y = 18.0;
    let v6: Vec<String> = v.ipv6.iter().map(ToString::to_string).collect();
    let v4: Vec<String> = v.ipv4.iter().map(ToString::to_string).collect();
    line(&mut s, PAD, y, "h", &format!("VPC {}", v.id));
    y += LINE + 2.0;
    line(
        &mut s,
        PAD,
        y,
        "t",
        &format!("IPv6 {} · IPv4 {}", v6.join(", "), v4.join(", ")),
    );
    y += 10.0;
    let gw_w = inner / v.gateways.len().max(1) as f64;
    for (i, g) in v.gateways.iter().enumerate() {
        gateway(&mut s, g, PAD + i as f64 * gw_w, y, gw_w);
    }
    if !v.gateways.is_empty() {
        y += 50.0;
    }
    // Security groups: chips, so findings about one are marked on it.
    let mut x = PAD;
    for (id, name) in &v.security_groups {
        let label = format!("{id} ({name})");
        let cw = 6.1 * label.len() as f64 + 12.0;
        if x + cw > W - PAD {
            x = PAD;
            y += 24.0;
        }
        let _ = write!(s, r#"<g class="sg" transform="translate({x:.1},{y:.1})""#);
        focus_attrs(
            &mut s,
            &format!("security group {label}"),
            &[format!("security group {label} in {}", v.id)],
        );
        let _ = write!(
            s,
            r#"><rect class="sgc" width="{cw:.1}" height="16" rx="8"/><text x="6" y="12" class="s">{}</text>"#,
            esc(&label)
        );
        fault(&mut s, plan, &[id.as_str()], cw, 16.0);
        s.push_str("</g>");
        let marked: usize = plan.findings_on(id).map(|f| f.id.len() + 1).sum();
        x += cw
            + GAP
            + if marked > 0 {
                24.0 + 7.0 * marked as f64
            } else {
                0.0
            };
    }
    if !v.security_groups.is_empty() {
        y += 26.0;
    }
    // The /56 ruler: where each /64 sits.
    let block = v.ipv6.first().copied();
    let spans: Vec<(f64, f64)> = v
        .subnets
        .iter()
        .map(|sn| match (block, sn.ipv6) {
            (Some(b), Some(n)) => span(b, n).unwrap_or((1.0, 0.0)),
            _ => (1.0, 0.0),
        })
        .collect();
    if let Some(b) = block {
        let used = v.subnets.iter().filter(|s| s.ipv6.is_some()).count();
        line(
            &mut s,
            PAD,
            y + 4.0,
            "s",
            &format!(
                "{b}: {} × /64, {used} used — each mark is a subnet at its place",
                slots(b, 64)
            ),
        );
        y += 8.0;
    }
    let marks: Vec<(f64, f64, &str)> = spans.iter().map(|&(a, l)| (a, l, "m-sub")).collect();
    let ruler_y = y;
    let pos = if block.is_some() {
        y += RULER + LENS;
        ruler(&mut s, PAD, ruler_y, inner, &marks)
    } else {
        Vec::new()
    };
    // Subnet boxes, at most four to a row, each row placed by offset.
    let mut row_start = 0;
    let per_row = 4usize;
    while row_start < v.subnets.len() {
        let end = (row_start + per_row).min(v.subnets.len());
        let n = end - row_start;
        let min = (inner - GAP * (n as f64 - 1.0)) / n as f64;
        let boxes = place(&spans[row_start..end], inner, min, GAP);
        let pieces: Vec<Piece> = v.subnets[row_start..end]
            .iter()
            .zip(&boxes)
            .map(|(sn, b)| subnet(plan, sn, b.1, compact))
            .collect();
        let row_h = pieces.iter().map(|p| p.h).fold(0.0, f64::max);
        for (i, (p, b)) in pieces.iter().zip(&boxes).enumerate() {
            if let Some(m) = pos.get(row_start + i)
                && row_start == 0
            {
                lens(&mut s, *m, ruler_y + RULER, PAD + b.0, b.1, y);
            }
            let _ = write!(
                s,
                r#"<g transform="translate({:.1},{y:.1})">{}</g>"#,
                PAD + b.0,
                p.svg
            );
        }
        y += row_h + GAP;
        row_start = end;
    }
    let h = y + 2.0;
    let mut out = format!(r#"<rect class="vpc" width="{W}" height="{h:.1}" rx="6"/>"#);
    out.push_str(&s);
    let ids: Vec<&str> = std::iter::once(v.id.as_str())
        .chain(v.gateways.iter().map(|g| g.id.as_str()))
        .collect();
    fault(&mut out, plan, &ids, W, h);
    Piece { svg: out, h }
}

fn subnet(plan: &Plan, sn: &Subnet, w: f64, compact: bool) -> Piece {
    let mut s = String::new();
    let inner = w - 2.0 * PAD;
    let mut y = 16.0;
    line(
        &mut s,
        PAD,
        y,
        "b",
        &format!("subnet {} · {}", sn.id, sn.zone),
    );
    y += LINE;
    let v6 = sn
        .ipv6
        .map(|n| n.to_string())
        .unwrap_or_else(|| "no IPv6 /64".into());
    line(&mut s, PAD, y, "a", &v6);
    y += LINE;
    let v4 = sn.ipv4.map(|n| n.to_string()).unwrap_or_default();
    let auto = if sn.assign_ipv6 { "on" } else { "OFF" };
    line(
        &mut s,
        PAD,
        y,
        "s",
        &format!(
            "{v4} · {} · auto-IPv6 {auto}",
            sn.route_table.as_deref().unwrap_or("no route table")
        ),
    );
    y += 8.0;
    let details = vec![
        format!("subnet {} in {}", sn.id, sn.zone),
        format!("IPv6 {v6}"),
        format!("IPv4 {v4}"),
        format!("route table {}", sn.route_table.as_deref().unwrap_or("-")),
        format!("assignIpv6AddressOnCreation {}", sn.assign_ipv6),
        format!(
            "{} nodes, {} Fargate pods",
            sn.nodes.len(),
            sn.fargate.len()
        ),
    ];
    // The /64 ruler: where each node's /80 and each Fargate /128 sits.
    let mut marks: Vec<(f64, f64, &str)> = Vec::new();
    if let Some(n) = sn.ipv6 {
        for node in &sn.nodes {
            let m = node.prefixes.first().and_then(|p| span(n, *p)).or_else(|| {
                node.ipv6
                    .and_then(|a| addr_fraction(n, a))
                    .map(|f| (f, 0.0))
            });
            marks.push(m.map_or((1.0, 0.0, "m-none"), |(a, l)| (a, l, "m-node")));
        }
        for p in &sn.fargate {
            if let Some(f) = addr_fraction(n, p.ipv6) {
                marks.push((f, 0.0, "m-fg"));
            }
        }
        line(
            &mut s,
            PAD,
            y + 5.0,
            "s",
            "65,536 × /80 · marks: node /80s, Fargate /128s",
        );
        y += 9.0;
    }
    let ruler_y = y;
    let pos = if sn.ipv6.is_some() {
        y += RULER + LENS;
        ruler(&mut s, PAD, ruler_y, inner, &marks)
    } else {
        y += 4.0;
        Vec::new()
    };
    let node_min = if compact { 200.0 } else { 270.0 };
    let cols = (((inner + GAP) / (node_min + GAP)).floor() as usize).max(1);
    let nw = (inner - GAP * (cols as f64 - 1.0)) / cols as f64;
    let mut row_h: f64 = 0.0;
    for (i, node) in sn.nodes.iter().enumerate() {
        let col = i % cols;
        if col == 0 && i > 0 {
            y += row_h + GAP;
            row_h = 0.0;
        }
        let p = node_box(plan, node, nw, compact);
        let x = PAD + col as f64 * (nw + GAP);
        if sn.nodes.len() <= 16
            && i < cols
            && let Some(m) = pos.get(i)
        {
            lens(&mut s, *m, ruler_y + RULER, x, nw, y);
        }
        let _ = write!(
            s,
            r#"<g transform="translate({x:.1},{y:.1})">{}</g>"#,
            p.svg
        );
        row_h = row_h.max(p.h);
    }
    if !sn.nodes.is_empty() {
        y += row_h + GAP;
    }
    if !sn.fargate.is_empty() {
        line(
            &mut s,
            PAD,
            y + 10.0,
            "s",
            "Fargate pods: a /128 each, straight from the subnet, and their own IPv4",
        );
        y += 16.0;
        for p in &sn.fargate {
            let lines = pod_lines(plan, p);
            let _ = write!(s, r#"<g class="pod" transform="translate({PAD},{y:.1})""#);
            focus_attrs(&mut s, &lines[0], &lines);
            let _ = write!(
                s,
                r#"><polygon class="fg" points="6,0 12,6 6,12 0,6"/><text x="18" y="10" class="a">{}/{} {} · {}</text></g>"#,
                esc(&p.namespace),
                esc(&p.name),
                p.ipv6,
                p.ipv4.map(|a| a.to_string()).unwrap_or_else(|| "-".into())
            );
            y += LINE;
        }
        y += 4.0;
    }
    let h = y.max(60.0);
    let mut ids = vec![sn.id.as_str()];
    ids.extend(sn.route_table.as_deref());
    fault(&mut s, plan, &ids, w, h);
    let mut out = String::from(r#"<g class="subnet""#);
    focus_attrs(&mut out, &format!("subnet {} {}", sn.id, v6), &details);
    let _ = write!(
        out,
        r#"><rect class="sub" width="{w:.1}" height="{h:.1}" rx="5"/>{s}</g>"#
    );
    Piece { svg: out, h }
}

/// The lab's proven paths that start or end at pod `p`.
fn pod_paths<'a>(plan: &'a Plan, p: &Pod) -> Vec<&'a PathResult> {
    let to = format!("{} ", p.name);
    plan.paths
        .iter()
        .filter(|r| r.from == p.name || r.to.starts_with(&to))
        .collect()
}

/// The details of pod `p`, with the paths the lab proved from and to it.
fn pod_lines(plan: &Plan, p: &Pod) -> Vec<String> {
    let kind = if p.fargate { "Fargate pod" } else { "pod" };
    let mut out = vec![
        format!("{kind} {}/{}", p.namespace, p.name),
        format!("IPv6 {} (reported to Kubernetes)", p.ipv6),
        match (p.ipv4, p.fargate) {
            (Some(a), false) => format!("IPv4 {a} node-local egress, not reported"),
            (Some(a), true) => format!("IPv4 {a} the unit's own"),
            (None, _) => "no IPv4".to_owned(),
        },
    ];
    for r in pod_paths(plan, p) {
        let result = if r.ok { "✓ ok" } else { "✗ FAILED" };
        out.push(format!(
            "{result}: {} {} → {}: {}",
            r.path, r.from, r.to, r.seen
        ));
    }
    out
}

/// A pod's path summary for its label (`✓ 4 paths`, `✗ 1 of 4 paths failed`) and whether any
/// failed.
fn path_badge(plan: &Plan, p: &Pod) -> (String, bool) {
    let paths = pod_paths(plan, p);
    let failed = paths.iter().filter(|r| !r.ok).count();
    match (paths.len(), failed) {
        (0, _) => (String::new(), false),
        (1, 0) => (" ✓ 1 path".to_owned(), false),
        (n, 0) => (format!(" ✓ {n} paths"), false),
        (n, f) => (format!(" ✗ {f} of {n} paths failed"), true),
    }
}

fn node_box(plan: &Plan, n: &Node, w: f64, compact: bool) -> Piece {
    let mut s = String::new();
    let mut y = 15.0;
    let prefix: Option<Ipv6Net> = n.prefixes.first().copied();
    let ptext = prefix.map_or_else(|| "no delegated /80".to_owned(), |p| p.to_string());
    let head = if n.name == n.instance_id {
        n.name.clone()
    } else {
        format!("{} · {}", n.name, n.instance_id)
    };
    line(&mut s, 8.0, y, "b", &head);
    y += LINE;
    line(&mut s, 8.0, y, "a p80", &ptext);
    let ipv6 = n.ipv6.map(|a| a.to_string()).unwrap_or_else(|| "-".into());
    let ipv4 = n.ipv4.map(|a| a.to_string()).unwrap_or_else(|| "-".into());
    let public = n.public_ipv4.map(|a| a.to_string());
    if !compact {
        y += LINE;
        line(&mut s, 8.0, y, "a", &format!("node {ipv6}"));
        y += LINE;
        line(
            &mut s,
            8.0,
            y,
            "s",
            &format!(
                "{} · {} · IPv4 {ipv4}{}",
                n.eni.as_deref().unwrap_or("-"),
                n.instance_type.as_deref().unwrap_or("?"),
                public
                    .as_deref()
                    .map(|p| format!(" (public {p})"))
                    .unwrap_or_default()
            ),
        );
    }
    y += 6.0;
    let details = vec![
        format!("node {} ({})", n.name, n.instance_id),
        format!(
            "{} {} {}",
            n.instance_type.as_deref().unwrap_or(""),
            n.state.as_deref().unwrap_or(""),
            n.eni.as_deref().unwrap_or("")
        ),
        format!("delegated prefix {ptext}"),
        format!("node IPv6 {ipv6}"),
        format!(
            "node IPv4 {ipv4}{}",
            public
                .as_deref()
                .map(|p| format!(", public {p} at the IGW"))
                .unwrap_or_default()
        ),
        format!("{} pods", n.pods.len()),
    ];
    y = pods(&mut s, plan, n, w, y, compact);
    // IPv4 egress: node-local, translated to the node's IPv4.
    let snat = match &public {
        Some(p) => format!("SNAT → {ipv4} → {p}"),
        None => format!("SNAT → {ipv4}"),
    };
    let egress = format!("IPv4 egress {EGRESS_V4} · {snat}");
    let _ = write!(
        s,
        r#"<g class="egress" transform="translate(6,{:.1})""#,
        y + 2.0
    );
    focus_attrs(
        &mut s,
        &egress,
        &[
            format!("pods' IPv4 interface v4if0: {EGRESS_V4}, node-local, gateway 169.254.172.1"),
            "never routed in the VPC, not reported to Kubernetes".to_owned(),
            format!("{snat} (the public IPv4 at the internet gateway; no DNS64/NAT64)"),
        ],
    );
    let _ = write!(
        s,
        r#"><rect width="{:.1}" height="16" fill="url(#hatch)"/><text x="4" y="12" class="s">{}</text></g>"#,
        w - 12.0,
        esc(&egress)
    );
    y += 22.0;
    let h = y;
    let mut ids = vec![n.instance_id.as_str()];
    ids.extend(n.eni.as_deref());
    fault(&mut s, plan, &ids, w, h);
    let mut out = String::from(r#"<g class="node""#);
    focus_attrs(&mut out, &format!("node {} {ptext}", n.name), &details);
    let _ = write!(
        out,
        r#"><rect class="nd" width="{w:.1}" height="{h:.1}" rx="4"/>{s}</g>"#
    );
    Piece { svg: out, h }
}

/// The node's pods (/128s inside its /80) from `y`; returns the `y` below them.
fn pods(s: &mut String, plan: &Plan, n: &Node, w: f64, mut y: f64, compact: bool) -> f64 {
    if compact {
        // One patterned rect for the full rows and one for the rest: two elements per node
        // however many pods (hover still names each one, from the node's text list).
        let cell = 7.0;
        y = (y / cell).ceil() * cell;
        let per_row = (((w - 2.0 * cell) / cell).floor() as usize).max(1);
        let (full, rest) = (n.pods.len() / per_row, n.pods.len() % per_row);
        if !n.pods.is_empty() {
            let _ = write!(
                s,
                r#"<g class="podcells" data-node="{}" data-x="{cell}" data-y="{y:.0}" data-c="{cell}" data-n="{per_row}" role="img" aria-label="{} pods, listed under Every address as text">"#,
                esc(&n.instance_id),
                n.pods.len()
            );
            if full > 0 {
                let _ = write!(
                    s,
                    r#"<rect x="{cell}" y="{y:.0}" width="{:.0}" height="{:.0}" fill="url(#cells)"/>"#,
                    per_row as f64 * cell,
                    full as f64 * cell
                );
            }
            if rest > 0 {
                let _ = write!(
                    s,
                    r#"<rect x="{cell}" y="{:.0}" width="{:.0}" height="{cell}" fill="url(#cells)"/>"#,
                    y + full as f64 * cell,
                    rest as f64 * cell
                );
            }
            s.push_str("</g>");
        }
        y += n.pods.len().div_ceil(per_row) as f64 * cell + 2.0;
    } else if n.pods.len() <= 12 {
        for p in &n.pods {
            let lines = pod_lines(plan, p);
            let (badge, bad) = path_badge(plan, p);
            let class = if bad { "pc bad" } else { "pc" };
            let _ = write!(s, r#"<g class="pod" transform="translate(8,{y:.1})""#);
            focus_attrs(s, &format!("{}{badge}", lines[0]), &lines);
            let _ = write!(
                s,
                r#"><rect class="{class}" width="10" height="10"/><text x="15" y="9" class="a">{} {}</text><text x="{:.0}" y="9" class="s">{badge}</text></g>"#,
                esc(&p.name),
                p.ipv6,
                w - 16.0 - 6.1 * badge.chars().count() as f64
            );
            y += 14.0;
        }
    } else {
        let cell = 12.0;
        let per_row = (((w - 16.0) / cell).floor() as usize).max(1);
        for (i, p) in n.pods.iter().enumerate() {
            let lines = pod_lines(plan, p);
            let _ = write!(
                s,
                r#"<rect class="pc" x="{:.0}" y="{:.0}" width="10" height="10""#,
                8.0 + (i % per_row) as f64 * cell,
                y + (i / per_row) as f64 * cell
            );
            focus_attrs(s, &format!("{} {}", lines[0], p.ipv6), &lines);
            s.push_str("/>");
        }
        y += n.pods.len().div_ceil(per_row) as f64 * cell;
    }
    y
}
