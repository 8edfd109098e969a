//! The renderer on synthetic plans, without a browser: every address is in the page as text,
//! the page fetches nothing, findings sit on the resource at fault, large plans stay lean.

use map::model::Plan;
use map::{Options, render, synthetic};

fn addresses(p: &Plan) -> Vec<String> {
    let mut out = Vec::new();
    for v in &p.vpcs {
        out.extend(v.ipv6.iter().map(ToString::to_string));
        for s in &v.subnets {
            out.extend(s.ipv6.iter().map(ToString::to_string));
            out.extend(s.fargate.iter().map(|p| p.ipv6.to_string()));
            for n in &s.nodes {
                out.extend(n.prefixes.iter().map(ToString::to_string));
                out.extend(n.ipv6.iter().map(ToString::to_string));
                out.extend(n.pods.iter().map(|p| p.ipv6.to_string()));
            }
        }
    }
    for c in &p.clusters {
        out.extend(c.service_cidr.iter().map(ToString::to_string));
        out.extend(c.dns.iter().map(ToString::to_string));
        out.extend(c.services.iter().map(|s| s.cluster_ip.to_string()));
    }
    out
}

/// The page's visible text (tags removed), so attributes do not count.
fn text_of(html: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                out.push(' ');
            }
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    out
}

#[test]
fn every_address_drawn_is_in_the_page_as_text() {
    for (nodes, pods) in [(3, 3), (5, 20), (30, 110)] {
        let p = synthetic::plan(nodes, pods);
        let text = text_of(&render(&p, Options::default()));
        let all = addresses(&p);
        assert!(all.len() > nodes * pods);
        for a in all {
            assert!(
                text.contains(&a),
                "{a} is not in the text of the {nodes}×{pods} page"
            );
        }
    }
}

#[test]
fn the_page_fetches_nothing() {
    let html = render(&synthetic::plan(4, 4), Options { live: true, rev: 1 });
    for bad in [
        "src=",
        "href=",
        "@import",
        "<link",
        "fetch(",
        "XMLHttpRequest",
        "@font-face",
    ] {
        assert!(!html.contains(bad), "the page contains {bad:?}");
    }
    let urls: Vec<&str> = html
        .match_indices("http")
        .map(|(i, _)| &html[i..i + 30])
        .collect();
    assert!(
        urls.iter()
            .all(|u| u.starts_with("http://www.w3.org/2000/svg")),
        "only the SVG namespace may name a URL: {urls:?}"
    );
    assert!(
        html.contains("EventSource('/events"),
        "live pages listen to /events"
    );
    let file = render(&synthetic::plan(4, 4), Options::default());
    assert!(
        file.contains("const LIVE=false"),
        "a file has no live updates"
    );
}

#[test]
fn a_finding_is_marked_on_the_resource_at_fault_with_its_id_and_fix() {
    let p = synthetic::plan(6, 2);
    let html = render(&p, Options::default());
    let subnet = html
        .find(r#"aria-label="subnet subnet-00000000000000002"#)
        .expect("the subnet is drawn and focusable");
    // The subnet's group holds the fault outline and the marker naming the rule.
    let group = &html[subnet..];
    let close = group
        .find(r#"class="fault""#)
        .expect("a fault outline after the subnet");
    let marker = group
        .find("SIX-SUBNET-AUTO-IPV6")
        .expect("the marker names the rule");
    let next_subnet = group[1..]
        .find("aria-label=\"subnet ")
        .map_or(usize::MAX, |i| i + 1);
    assert!(
        close < next_subnet && marker < next_subnet,
        "marked on its own subnet"
    );
    assert!(
        html.contains("Fix:</b> aws ec2 modify-subnet-attribute"),
        "the fix is in the list"
    );
}

#[test]
fn a_thousand_nodes_of_110_pods_stay_a_lean_dom() {
    let p = synthetic::plan(1000, 110);
    let html = render(&p, Options::default());
    let elements = html.matches('<').count();
    assert!(
        elements < 60_000,
        "{elements} tags for 110,000 pods: pods must be drawn compactly"
    );
    let text = text_of(&html);
    let last = &p.vpcs[0].subnets[2].nodes.last().unwrap().pods[109];
    assert!(
        text.contains(&last.ipv6.to_string()),
        "pods are still listed as text"
    );
}

#[test]
fn a_pod_on_a_failed_path_is_marked_and_its_details_name_the_path() {
    let mut p = synthetic::plan(2, 2);
    let pod = p.vpcs[0].subnets[0].nodes[0].pods[0].clone();
    p.paths = vec![
        map::model::PathResult {
            path: "pod → IPv6 internet (via EIGW)".into(),
            from: pod.name.clone(),
            to: "[2001:db8:ffff::10]:80".into(),
            ok: false,
            seen: "timed out".into(),
        },
        map::model::PathResult {
            path: "pod → pod, same node".into(),
            from: "other".into(),
            to: format!("{} [{}]:8080", pod.name, pod.ipv6),
            ok: true,
            seen: "ok".into(),
        },
    ];
    let html = render(&p, Options::default());
    assert!(
        html.contains(&format!("pod default/{} ✗ 1 of 2 paths failed", pod.name)),
        "the label says it"
    );
    assert!(html.contains(r#"class="pc bad""#), "the cell is outlined");
    assert!(
        html.contains("✗ FAILED: pod → IPv6 internet (via EIGW)"),
        "the details name the path"
    );
    assert!(
        html.contains("paths proven 1 of 2"),
        "the summary counts them"
    );
}
