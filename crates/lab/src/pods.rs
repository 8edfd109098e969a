//! Pods: namespaces wired by the REAL CNI plugins, run the way a container runtime runs a
//! conflist (libcni): each plugin of the agent-written conflist in order, `CNI_COMMAND=ADD`,
//! its config on stdin with `name`, `cniVersion` and the previous plugin's result as
//! `prevResult`, executed inside the node's namespace; DEL runs the list in reverse.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use dataplane::netlink::Netlink;
use dataplane::netns::NetNs;
use serde_json::Value;

use crate::error::{LabError, Result};

/// How long one plugin may take.
const PLUGIN_TIMEOUT: Duration = Duration::from_secs(20);
/// Where Debian's reference plugins (host-local) live.
pub const SYSTEM_CNI_DIR: &str = "/usr/lib/cni";

/// A node's network configuration list, ready to run.
#[derive(Debug, Clone)]
pub struct Chain {
    conflist: Value,
    /// `CNI_PATH`: sixfold's plugin dir, then the system's.
    cni_path: String,
    bin_dir: PathBuf,
}

/// What ADD gave a pod.
#[derive(Debug, Clone)]
pub struct Attached {
    pub ipv6: Ipv6Addr,
    /// The node-local egress IPv4 on `v4if0` (the egress plugin does not report it).
    pub egress_ipv4: Option<Ipv4Addr>,
}

impl Chain {
    /// Load the `*.conflist` the agent wrote into `conf_dir`.
    pub fn load(conf_dir: &Path, bin_dir: &Path) -> Result<Chain> {
        let mut found = std::fs::read_dir(conf_dir)
            .map_err(LabError::io("reading the CNI conf dir", conf_dir))?
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "conflist"))
            .collect::<Vec<_>>();
        found.sort();
        let path = found.first().ok_or_else(|| LabError::Command {
            what: "loading the CNI conflist".into(),
            detail: format!("no *.conflist in {}", conf_dir.display()),
        })?;
        let text = std::fs::read(path).map_err(LabError::io("reading the conflist", path))?;
        let conflist: Value = serde_json::from_slice(&text).map_err(|source| LabError::State {
            path: path.clone(),
            source,
        })?;
        // A conflist without plugins would "attach" a pod by running nothing.
        if conflist["plugins"]
            .as_array()
            .is_none_or(|list| list.is_empty())
        {
            return Err(LabError::Command {
                what: "loading the CNI conflist".into(),
                detail: format!("{} has no \"plugins\" list to run", path.display()),
            });
        }
        Ok(Chain {
            conflist,
            cni_path: format!("{}:{SYSTEM_CNI_DIR}", bin_dir.display()),
            bin_dir: bin_dir.to_owned(),
        })
    }

    fn plugins(&self) -> Vec<Value> {
        self.conflist["plugins"]
            .as_array()
            .cloned()
            .expect("`Chain::load` refuses a conflist without a \"plugins\" list")
    }

    fn plugin_conf(&self, plugin: &Value, prev: Option<&Value>) -> Value {
        let mut conf = plugin.clone();
        conf["name"] = self.conflist["name"].clone();
        conf["cniVersion"] = self.conflist["cniVersion"].clone();
        if let Some(p) = prev {
            conf["prevResult"] = p.clone();
        }
        conf
    }

    fn run(
        &self,
        node: &NetNs,
        plugin: &Value,
        command: &'static str,
        pod: &PodRef<'_>,
        stdin: &Value,
    ) -> Result<Value> {
        let ty = plugin["type"]
            .as_str()
            .ok_or_else(|| LabError::Command {
                what: "loading the CNI conflist".into(),
                detail: format!("a plugin of the conflist has no \"type\": {plugin}"),
            })?
            .to_owned();
        let bin = self.bin_dir.join(&ty);
        let mut cmd = Command::new(&bin);
        cmd.env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .env("CNI_COMMAND", command)
            .env("CNI_CONTAINERID", pod.container_id)
            .env("CNI_NETNS", pod.netns)
            .env("CNI_IFNAME", "eth0")
            .env("CNI_PATH", &self.cni_path)
            .env(
                "CNI_ARGS",
                format!(
                    "IgnoreUnknown=1;K8S_POD_NAMESPACE={};K8S_POD_NAME={}",
                    pod.namespace, pod.name
                ),
            );
        let input = stdin.to_string();
        let fail = |detail: String| LabError::Plugin {
            pod: pod.name.to_owned(),
            plugin: ty.clone(),
            command,
            detail,
        };
        // Spawned from a thread inside the node's namespace: the plugin runs there, as it
        // would under `ip netns exec <node>`.
        let out = node
            .run(move || dataplane::exec::run(cmd, input.as_bytes(), PLUGIN_TIMEOUT))
            .map_err(|e| fail(e.to_string()))?
            .map_err(|e| fail(e.to_string()))?;
        let text = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() {
            return Err(fail(format!(
                "exit {:?}: {} {}",
                out.status.code(),
                text.trim(),
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        if text.trim().is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_str(text.trim())
            .map_err(|e| fail(format!("non-JSON result {text:?}: {e}")))
    }

    /// ADD the pod through the whole chain; returns its addresses.
    pub fn add(&self, node: &NetNs, pod: &PodRef<'_>) -> Result<Attached> {
        let mut prev: Option<Value> = None;
        for plugin in self.plugins() {
            let conf = self.plugin_conf(&plugin, prev.as_ref());
            prev = Some(self.run(node, &plugin, "ADD", pod, &conf)?);
        }
        let result = prev.unwrap_or(Value::Null);
        let ipv6 = result["ips"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|ip| ip["address"].as_str())
            .filter_map(|a| a.split('/').next()?.parse::<IpAddr>().ok())
            .find_map(|a| match a {
                IpAddr::V6(v6) => Some(v6),
                IpAddr::V4(_) => None,
            })
            .ok_or_else(|| LabError::Plugin {
                pod: pod.name.to_owned(),
                plugin: "chain".into(),
                command: "ADD",
                detail: format!("the result has no IPv6 address: {result}"),
            })?;
        let egress_ipv4 = egress_ipv4(pod.netns);
        Ok(Attached { ipv6, egress_ipv4 })
    }

    /// DEL the pod through the whole chain, the plugins in reverse order as libcni runs them
    /// (the egress plugin first, then `sixfold-cni`, which releases the address to the agent).
    /// Every plugin is run even when one fails; the failures are reported together. The
    /// plugins' DEL is idempotent (a pod already gone, or a namespace already deleted, is fine).
    pub fn del(&self, node: &NetNs, pod: &PodRef<'_>) -> Result<()> {
        let mut failures = Vec::new();
        for plugin in self.plugins().iter().rev() {
            let conf = self.plugin_conf(plugin, None);
            if let Err(e) = self.run(node, plugin, "DEL", pod, &conf) {
                failures.push(e.to_string());
            }
        }
        if failures.is_empty() {
            Ok(())
        } else {
            Err(LabError::Plugin {
                pod: pod.name.to_owned(),
                plugin: "chain".into(),
                command: "DEL",
                detail: failures.join("; "),
            })
        }
    }
}

/// Which pod a plugin call is for.
#[derive(Debug, Clone, Copy)]
pub struct PodRef<'a> {
    pub name: &'a str,
    pub namespace: &'a str,
    pub container_id: &'a str,
    /// `/run/netns/<pod namespace>`.
    pub netns: &'a str,
}

/// The IPv4 on the pod's `v4if0` (the egress plugin's interface), read over netlink.
fn egress_ipv4(netns: &str) -> Option<Ipv4Addr> {
    let ns = NetNs::open(netns).ok()?;
    let mut nl: Netlink = ns.netlink().ok()?;
    let link = nl.link_get("v4if0").ok()?;
    nl.addr_list(Some(link.index))
        .ok()?
        .into_iter()
        .find_map(|a| match a.addr {
            IpAddr::V4(v4) => Some(v4),
            IpAddr::V6(_) => None,
        })
}
