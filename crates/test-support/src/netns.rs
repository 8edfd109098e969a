//! Network namespaces made for one test: uniquely named (prefix, pid, counter, role) so the
//! suites of several people never collide, and deleted on drop even when the test fails.

use std::net::Ipv6Addr;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::{Value, json};

use crate::cmd::{Cli, sh, try_sh};

/// `ip -j ARGS` parsed (`[]` when `ip` prints nothing).
pub fn ip_json(args: &[&str]) -> Value {
    let mut full = vec!["ip", "-j"];
    full.extend_from_slice(args);
    let s = sh(&full);
    if s.trim().is_empty() {
        json!([])
    } else {
        serde_json::from_str(&s).expect("ip -j prints JSON")
    }
}

/// A network namespace made for one test (loopback up); deleted on drop.
#[derive(Debug)]
pub struct TestNs {
    /// The name under `/run/netns`.
    pub name: String,
    deleted: bool,
}

impl TestNs {
    /// A new namespace named `PREFIX-PID-N-ROLE`; `prefix` tells whose test made it.
    pub fn new(prefix: &str, role: &str) -> TestNs {
        static N: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "{prefix}-{}-{}-{role}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        );
        sh(&["ip", "netns", "add", &name]);
        let ns = TestNs {
            name,
            deleted: false,
        };
        ns.ip(&["link", "set", "lo", "up"]);
        ns
    }

    /// `/run/netns/NAME`, what `setns` and CNI's `CNI_NETNS` take.
    pub fn path(&self) -> String {
        format!("/run/netns/{}", self.name)
    }

    /// Delete it now (e.g. to test a DEL after the namespace is gone); drop does nothing more.
    pub fn delete(&mut self) {
        if !self.deleted {
            let _ = try_sh(&["ip", "netns", "del", &self.name]);
            self.deleted = true;
        }
    }

    /// `ip -n NAME ARGS`: its stdout; panics when it fails.
    pub fn ip(&self, args: &[&str]) -> String {
        let mut full = vec!["ip", "-n", &self.name];
        full.extend_from_slice(args);
        sh(&full)
    }

    /// `ip -j -n NAME ARGS`, parsed (`[]` when `ip` prints nothing).
    pub fn ip_json(&self, args: &[&str]) -> Value {
        let mut full = vec!["-n", &self.name];
        full.extend_from_slice(args);
        ip_json(&full)
    }

    /// `ip netns exec NAME ARGS` within [`crate::cmd::SH_TIMEOUT`], whatever it answers.
    pub fn exec(&self, args: &[&str]) -> Cli {
        let mut cmd = std::process::Command::new("ip");
        cmd.args(["netns", "exec", &self.name]).args(args);
        crate::cmd::run(cmd, crate::cmd::SH_TIMEOUT)
    }

    /// Set sysctls inside it (`key=value`, as `sysctl -w` takes them); panics when one fails.
    pub fn sysctl(&self, settings: &[&str]) {
        let mut args = vec!["sysctl", "-qw"];
        args.extend_from_slice(settings);
        let out = self.exec(&args);
        assert!(
            out.ok(),
            "sysctl {settings:?} in {}: {}",
            self.name,
            out.stderr
        );
    }

    /// The interface names in it.
    pub fn links(&self) -> Vec<String> {
        self.ip_json(&["link", "show"])
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|l| l["ifname"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The global IPv6 addresses on `dev`.
    pub fn ipv6_of(&self, dev: &str) -> Vec<Ipv6Addr> {
        self.ip_json(&["-6", "addr", "show", "dev", dev, "scope", "global"])
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|l| l["addr_info"].as_array().cloned().unwrap_or_default())
            .filter_map(|a| a["local"].as_str().and_then(|s| s.parse().ok()))
            .collect()
    }
}

impl Drop for TestNs {
    fn drop(&mut self) {
        self.delete();
    }
}
