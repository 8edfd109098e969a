//! `sixfold status`: the lab's address map, read from its state file, as a table or JSON.

use std::path::Path;

use serde_json::{Value, json};

use crate::error::{LabError, Result};
use crate::procs;
use crate::state::LabState;

/// Load the state of lab `name` from `state_dir`.
pub fn load(name: &str, state_dir: &Path) -> Result<LabState> {
    LabState::load(state_dir)?.ok_or_else(|| LabError::NoLab {
        name: name.to_owned(),
        path: LabState::path(state_dir),
    })
}

/// The address map as JSON (the format `status --output json` prints).
pub fn json(s: &LabState) -> Value {
    let running = s.processes.iter().filter(|p| procs::is_ours(p)).count();
    json!({
        "name": s.name,
        "phase": s.phase,
        "state_dir": s.state_dir,
        "region": s.region,
        "vpc": s.vpc,
        "cluster": s.cluster,
        "nodes": s.nodes,
        "pods": s.pods,
        "services": s.services,
        "internet": {"ipv4": s.internet_ipv4, "ipv6": s.internet_ipv6},
        "namespaces": s.namespaces,
        "processes": {"recorded": s.processes.len(), "running": running},
    })
}

fn table(rows: &[Vec<String>]) -> String {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for r in rows {
        let line: Vec<String> = r
            .iter()
            .enumerate()
            .map(|(i, s)| format!("{s:<w$}", w = widths[i]))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out
}

/// The address map as readable tables.
pub fn render(s: &LabState) -> String {
    let mut out = String::new();
    let running = s.processes.iter().filter(|p| procs::is_ours(p)).count();
    out.push_str(&format!(
        "lab {} ({}), {running}/{} processes running, state in {}\n",
        s.name,
        s.phase,
        s.processes.len(),
        s.state_dir.display()
    ));
    if let Some(r) = &s.region {
        out.push_str(&format!("region   {}\n", r.endpoint));
    }
    if let Some(v) = &s.vpc {
        out.push_str(&format!("vpc      {}  {} + {}\n", v.id, v.ipv4, v.ipv6));
    }
    if let Some(c) = &s.cluster {
        out.push_str(&format!(
            "cluster  {}  ipFamily={}  service CIDR {}  DNS {}  (by {})\n",
            c.name, c.ip_family, c.service_cidr, c.dns, c.source
        ));
    }
    out.push_str(&format!(
        "internet {} / {}\n\n",
        s.internet_ipv4, s.internet_ipv6
    ));
    let mut rows = vec![vec![
        "NODE".into(),
        "INSTANCE".into(),
        "ZONE".into(),
        "IPV4".into(),
        "PUBLIC IPV4".into(),
        "IPV6".into(),
        "PREFIX /80".into(),
    ]];
    for n in &s.nodes {
        rows.push(vec![
            n.name.clone(),
            n.instance_id.clone(),
            n.zone.clone(),
            n.ipv4.to_string(),
            n.public_ipv4.to_string(),
            n.ipv6.to_string(),
            n.prefix.clone().unwrap_or_else(|| "-".into()),
        ]);
    }
    out.push_str(&table(&rows));
    out.push('\n');
    let mut rows = vec![vec![
        "POD".into(),
        "NODE".into(),
        "IPV6".into(),
        "IPV4 (egress / own)".into(),
    ]];
    for p in &s.pods {
        rows.push(vec![
            format!("{}/{}", p.namespace, p.name),
            p.node.clone(),
            p.ipv6.to_string(),
            p.ipv4.map(|a| a.to_string()).unwrap_or_else(|| "-".into()),
        ]);
    }
    out.push_str(&table(&rows));
    if !s.services.is_empty() {
        out.push('\n');
        let mut rows = vec![vec![
            "SERVICE".into(),
            "CLUSTER-IP".into(),
            "PORT".into(),
            "DNS NAME".into(),
            "PODS".into(),
        ]];
        for v in &s.services {
            rows.push(vec![
                format!("{}/{}", v.namespace, v.name),
                v.cluster_ip.to_string(),
                format!("{}→{}", v.port, v.target_port),
                v.dns_name.clone(),
                v.backends.join(","),
            ]);
        }
        out.push_str(&table(&rows));
    }
    out
}
