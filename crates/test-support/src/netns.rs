//! Network namespaces made for one test: uniquely named (prefix, pid, counter, role) so the
//! suites of several people never collide, and deleted on drop even when the test fails.

use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::{Value, json};

use crate::cmd::{sh, try_sh};

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
        sh(&["ip", "-n", &ns.name, "link", "set", "lo", "up"]);
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

    /// The interface names in it.
    pub fn links(&self) -> Vec<String> {
        ip_json(&["-n", &self.name, "link", "show"])
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|l| l["ifname"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl Drop for TestNs {
    fn drop(&mut self) {
        self.delete();
    }
}
