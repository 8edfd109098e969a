//! Node set-up at agent start: kernel settings and the egress table in the node's network
//! namespace (via `dataplane`), then the CNI conflist, written last and atomically so the
//! container runtime sees the network as ready only once the agent can answer.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

use tracing::info;

use crate::config::AgentConfig;
use crate::prefix::NodeFacts;

/// The conflist's file name inside the CNI conf dir (sorts before most others).
pub const CONFLIST_FILE: &str = "10-sixfold.conflist";
/// The CNI version the conflist declares (the highest Debian's reference plugins support).
pub const CNI_VERSION: &str = "1.0.0";

/// Failures of node set-up.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("node kernel set-up (forwarding sysctls) failed: {0}")]
    Sysctl(#[source] dataplane::Error),
    #[error("creating the node egress table (SNAT to {node_ipv4}) failed: {source}")]
    Egress {
        node_ipv4: std::net::Ipv4Addr,
        #[source]
        source: dataplane::Error,
    },
    #[error(
        "writing the CNI conflist {path} failed: {source}; check that the CNI conf dir is writable"
    )]
    Conflist {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Prepares the node once its facts are known.
pub trait HostSetup: Send + Sync {
    fn prepare(&self, facts: &NodeFacts) -> Result<(), SetupError>;
}

/// What the conflist is built from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConflistSettings {
    pub conf_dir: PathBuf,
    pub network_name: String,
    pub agent_socket: PathBuf,
    pub mtu: u32,
    pub random_fully: bool,
    pub egress_ipam_data_dir: PathBuf,
}

impl ConflistSettings {
    pub fn from_config(c: &AgentConfig) -> Self {
        Self {
            conf_dir: c.cni_conf_dir.clone(),
            network_name: c.network_name.clone(),
            agent_socket: c.socket.clone(),
            mtu: c.mtu,
            random_fully: c.random_fully,
            egress_ipam_data_dir: c.egress_ipam_data_dir(),
        }
    }

    /// Render and write the conflist for `facts`; returns its path.
    pub fn write(&self, facts: &NodeFacts) -> Result<PathBuf, SetupError> {
        let value = render_conflist(self, facts);
        let path = self.conf_dir.join(CONFLIST_FILE);
        let mut text = serde_json::to_vec_pretty(&value).map_err(|e| SetupError::Conflist {
            path: path.clone(),
            source: std::io::Error::other(e),
        })?;
        text.push(b'\n');
        write_atomically(&path, &text).map_err(|source| SetupError::Conflist {
            path: path.clone(),
            source,
        })?;
        info!(path = %path.display(), "wrote CNI conflist");
        Ok(path)
    }
}

fn render_conflist(s: &ConflistSettings, facts: &NodeFacts) -> serde_json::Value {
    cni::conflist::render(&cni::conflist::Params {
        network_name: s.network_name.clone(),
        agent_socket: s.agent_socket.clone(),
        node_ipv4: facts.node_ipv4,
        mtu: s.mtu,
        random_fully: s.random_fully,
        egress_ipam_data_dir: s.egress_ipam_data_dir.clone(),
        cni_version: CNI_VERSION.to_owned(),
    })
}

/// Write `bytes` to `path` so a reader sees the old file or the new one, never a partial one
/// (see [`replace_atomically`]).
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    replace_atomically(path, None, |f| f.write_all(bytes))
}

/// Replace `path` with what `fill` writes, so a reader (or a runtime executing it) sees the old
/// file or the new one, never a partial one: temp file in the same dir, fsync, exact `mode` when
/// given, rename, fsync the dir. The dir is created (0755) if missing; the temp file is removed
/// on failure.
pub fn replace_atomically(
    path: &Path,
    mode: Option<u32>,
    fill: impl FnOnce(&mut std::fs::File) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o755)
        .create(dir)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    // A leading dot keeps runtimes that scan the dir from picking up the temp file.
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        fill(&mut f)?;
        f.sync_all()?;
        if let Some(mode) = mode {
            // Set exactly: a mode given at creation would be masked by the umask.
            std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(mode))?;
        }
        std::fs::rename(&tmp, path)?;
        std::fs::File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// The real node set-up: sysctls and egress table in the current network namespace, then the
/// conflist.
#[derive(Debug, Clone)]
pub struct SystemHost {
    pub conflist: ConflistSettings,
    pub random_fully: bool,
}

impl HostSetup for SystemHost {
    fn prepare(&self, facts: &NodeFacts) -> Result<(), SetupError> {
        dataplane::node_setup().map_err(SetupError::Sysctl)?;
        let egress = dataplane::nft::NodeEgress {
            node_ipv4: facts.node_ipv4,
            random_fully: self.random_fully,
        };
        dataplane::nft::ensure_node_egress(&egress).map_err(|source| SetupError::Egress {
            node_ipv4: facts.node_ipv4,
            source,
        })?;
        info!(node_ipv4 = %facts.node_ipv4, "node forwarding and egress table ready");
        self.conflist.write(facts)?;
        Ok(())
    }
}

/// Only writes the conflist (no kernel changes): for tests and for nodes whose kernel side is
/// prepared by other means.
#[derive(Debug, Clone)]
pub struct ConflistOnly(pub ConflistSettings);

impl HostSetup for ConflistOnly {
    fn prepare(&self, facts: &NodeFacts) -> Result<(), SetupError> {
        self.0.write(facts).map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conflist_is_written_atomically_and_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let conf = dir.path().join("net.d");
        let s = ConflistSettings {
            conf_dir: conf.clone(),
            network_name: "sixfold".into(),
            agent_socket: "/run/sixfold/agent.sock".into(),
            mtu: 9001,
            random_fully: true,
            egress_ipam_data_dir: "/var/lib/sixfold/agent/egress-ipam".into(),
        };
        let facts = NodeFacts {
            prefix: "2001:db8:0:1:abcd::/80".parse().unwrap(),
            node_ipv4: "10.0.1.7".parse().unwrap(),
            node_ipv6: None,
            eni_id: None,
        };
        let path = s.write(&facts).unwrap();
        assert_eq!(path, conf.join(CONFLIST_FILE));
        s.write(&facts).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(v["name"], "sixfold");
        assert_eq!(v["cniVersion"], CNI_VERSION);
        assert_eq!(v["plugins"][0]["agentSocket"], "/run/sixfold/agent.sock");
        assert_eq!(v["plugins"][1]["nodeIP"], "10.0.1.7");
        let names: Vec<_> = std::fs::read_dir(&conf)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(
            names,
            vec![std::ffi::OsString::from(CONFLIST_FILE)],
            "no temp files left"
        );
    }
}
