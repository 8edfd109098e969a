//! `sixfold status`: the lab's address map, read from its state file, as a table or JSON, and
//! the `export AWS_...` lines that point the AWS CLI at the lab's region (`status --env`).

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

/// How to reach the lab's region with the AWS CLI or an SDK: endpoint, region name, profile and
/// credentials file; `None` before the region has started.
pub fn aws(s: &LabState) -> Option<Value> {
    let r = s.region.as_ref()?;
    Some(json!({
        "endpoint_url": r.endpoint,
        "region": crate::region::REGION,
        "profile": crate::region::PROFILE,
        "credentials_file": r.credentials,
    }))
}

/// Shell-quote `v` for a POSIX shell (single quotes; a `'` inside is closed, escaped, reopened).
fn sh_quote(v: &str) -> String {
    if !v.is_empty()
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/:._-@%+=,".contains(&b))
    {
        v.to_owned()
    } else {
        format!("'{}'", v.replace('\'', "'\\''"))
    }
}

/// The `export AWS_...` lines (one per line, POSIX shell) that point the AWS CLI and the SDKs
/// at the lab's region: `eval "$(sixfold status --env)"`. Empty before the region has started.
pub fn env_lines(s: &LabState) -> String {
    let Some(r) = &s.region else {
        return String::new();
    };
    let creds = r.credentials.display().to_string();
    [
        ("AWS_ENDPOINT_URL", r.endpoint.as_str()),
        ("AWS_SHARED_CREDENTIALS_FILE", creds.as_str()),
        ("AWS_PROFILE", crate::region::PROFILE),
        ("AWS_DEFAULT_REGION", crate::region::REGION),
        ("AWS_REGION", crate::region::REGION),
    ]
    .iter()
    .map(|(k, v)| format!("export {k}={}\n", sh_quote(v)))
    .collect()
}

/// The address map as JSON (the format `status --output json` prints). `aws` holds what the
/// AWS CLI needs (`endpoint_url`, `region`, `profile`, `credentials_file`).
pub fn json(s: &LabState) -> Value {
    let running = s.processes.iter().filter(|p| procs::is_ours(p)).count();
    json!({
        "name": s.name,
        "phase": s.phase,
        "state_dir": s.state_dir,
        "aws": aws(s),
        "region": s.region,
        "vpc": s.vpc,
        "cluster": s.cluster,
        "nodes": s.nodes,
        "pods": s.pods,
        "services": s.services,
        "internet": {"ipv4": s.internet_ipv4, "ipv6": s.internet_ipv6},
        "namespaces": s.namespaces,
        "processes": {"recorded": s.processes.len(), "running": running},
        "load_balancers": crate::lb::status_json(s),
    })
}

/// Rows as left-aligned columns separated by two spaces.
pub(crate) fn table(rows: &[Vec<String>]) -> String {
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
        out.push_str(&format!(
            "region   {} {}  credentials {} (profile {})\n",
            crate::region::REGION,
            r.endpoint,
            r.credentials.display(),
            crate::region::PROFILE
        ));
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
    out.push_str(&crate::lb::status_table(s));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::RegionInfo;
    use std::path::PathBuf;

    fn with_region() -> LabState {
        let mut s = LabState::new("t", Path::new("/run/sixfold-lab/t"));
        s.region = Some(RegionInfo {
            endpoint: "http://127.0.0.1:4567".into(),
            data_dir: PathBuf::from("/run/sixfold-lab/t/region"),
            credentials: PathBuf::from("/run/sixfold-lab/t/region/credentials"),
        });
        s
    }

    #[test]
    fn status_json_tells_the_aws_cli_where_the_region_is() {
        let j = json(&with_region());
        assert_eq!(j["aws"]["endpoint_url"], "http://127.0.0.1:4567");
        assert_eq!(j["aws"]["region"], "us-east-1");
        assert_eq!(j["aws"]["profile"], "sixfold");
        assert_eq!(
            j["aws"]["credentials_file"],
            "/run/sixfold-lab/t/region/credentials"
        );
        assert!(json(&LabState::new("t", Path::new("/x")))["aws"].is_null());
    }

    #[test]
    fn env_lines_are_shell_exports() {
        let e = env_lines(&with_region());
        assert!(
            e.contains("export AWS_ENDPOINT_URL=http://127.0.0.1:4567\n"),
            "{e}"
        );
        assert!(
            e.contains(
                "export AWS_SHARED_CREDENTIALS_FILE=/run/sixfold-lab/t/region/credentials\n"
            ),
            "{e}"
        );
        assert!(e.contains("export AWS_PROFILE=sixfold\n"), "{e}");
        assert!(e.contains("export AWS_DEFAULT_REGION=us-east-1\n"), "{e}");
        assert_eq!(env_lines(&LabState::new("t", Path::new("/x"))), "");
        assert_eq!(sh_quote("/a b/it's"), "'/a b/it'\\''s'");
    }

    #[test]
    fn the_table_names_the_region_and_credentials() {
        let t = render(&with_region());
        assert!(t.contains("us-east-1 http://127.0.0.1:4567"), "{t}");
        assert!(
            t.contains("credentials /run/sixfold-lab/t/region/credentials"),
            "{t}"
        );
    }
}
