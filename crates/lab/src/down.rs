//! `sixfold down`: remove everything a lab made, best effort and idempotent, with or without
//! its state file: first CNI DEL for every pod through the real plugins while the agents still
//! run (so each agent releases its pods' addresses; a failure is reported, not fatal; a node
//! whose agent is dead is reported once and its pods get no DEL), then the
//! processes (recorded pids whose command line still matches, plus any
//! process living in one of the lab's namespaces, plus `sixfold` processes naming the lab's
//! state dir), then the namespaces (their links, addresses, routes and nftables tables go with
//! them), then the state dir. Errors are collected and reported together at the end.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::{LabError, Result};
use crate::plan::Names;
use crate::procs;
use crate::state::LabState;
use crate::topo;

/// What `down` removed.
#[derive(Debug, Default)]
pub struct Removed {
    /// Pods DELeted through the CNI chain.
    pub pods_deleted: usize,
    /// Pods whose DEL failed (`pod: why`); the teardown went on without them.
    pub del_failures: Vec<String>,
    /// Nodes whose agent was dead (one line each): their pods got no DEL, and went with the
    /// lab's namespaces.
    pub dead_agents: Vec<String>,
    pub processes: usize,
    pub namespaces: usize,
    pub state_dir: bool,
}

/// Entries `up` creates inside the state dir (removed one by one when the dir is not the
/// default one, so a user-chosen dir keeps anything else it holds).
const STATE_ENTRIES: &[&str] = &[
    "lab.json",
    ".lab.json.tmp",
    "region",
    "nodes",
    "logs",
    "dns.json",
    "state.lock",
    "checks.json",
    "credentials",
];

/// Remove lab `name` (state in `state_dir`).
pub fn down(name: &str, state_dir: &Path) -> Result<Removed> {
    let names = Names::new(name)?;
    let mut problems = Vec::new();
    let state = match LabState::load(state_dir) {
        Ok(s) => s,
        Err(e) => {
            problems.push(format!("state file unreadable ({e}); removing by name"));
            None
        }
    };
    let mut namespaces = topo::namespaces_with_prefix(&names.prefix());
    if let Some(s) = &state {
        for n in &s.namespaces {
            if !namespaces.contains(n) && topo::netns_path(n).exists() {
                namespaces.push(n.clone());
            }
        }
    }
    // CNI DEL for every pod, while the agents still answer.
    let dels = state
        .as_ref()
        .map(crate::podcmd::del_all)
        .unwrap_or_default();
    // Processes.
    let mut pids: Vec<u32> = state
        .iter()
        .flat_map(|s| s.processes.iter())
        .filter(|p| procs::is_ours(p))
        .map(|p| p.pid)
        .collect();
    let paths: Vec<PathBuf> = namespaces.iter().map(|n| topo::netns_path(n)).collect();
    pids.extend(procs::in_namespaces(&paths));
    let needle = state_dir.display().to_string();
    if needle.len() > 1 {
        pids.extend(procs::mentioning(&needle, "sixfold"));
    }
    pids.sort_unstable();
    pids.dedup();
    procs::end(&pids, Duration::from_secs(2));
    // Namespaces.
    if let Err(e) = topo::delete_namespaces(&namespaces) {
        problems.push(e.to_string());
    }
    // State.
    let mut removed_dir = false;
    if state_dir.exists() {
        let default = state_dir.starts_with("/run/sixfold-lab");
        if default {
            if let Err(e) = std::fs::remove_dir_all(state_dir) {
                problems.push(format!("removing {}: {e}", state_dir.display()));
            }
        } else {
            for entry in STATE_ENTRIES {
                let p = state_dir.join(entry);
                let r = if p.is_dir() {
                    std::fs::remove_dir_all(&p)
                } else {
                    std::fs::remove_file(&p)
                };
                if let Err(e) = r
                    && e.kind() != std::io::ErrorKind::NotFound
                {
                    problems.push(format!("removing {}: {e}", p.display()));
                }
            }
            let _ = std::fs::remove_dir(state_dir);
        }
        removed_dir = !LabState::path(state_dir).exists();
    }
    // A killed `up` may leave its `ip -batch` child still adding namespaces after the sweep
    // above: sweep again, bounded, until none appears.
    let deadline = std::time::Instant::now() + Duration::from_secs(3);
    loop {
        let late = topo::namespaces_with_prefix(&names.prefix());
        if late.is_empty() || std::time::Instant::now() >= deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
        let paths: Vec<PathBuf> = late.iter().map(|n| topo::netns_path(n)).collect();
        procs::end(&procs::in_namespaces(&paths), Duration::from_secs(1));
        let _ = topo::delete_namespaces(&late);
    }
    // Check.
    let left_ns = topo::namespaces_with_prefix(&names.prefix());
    if !left_ns.is_empty() {
        problems.push(format!("namespaces left: {left_ns:?}"));
    }
    let left_pids: Vec<u32> = state
        .iter()
        .flat_map(|s| s.processes.iter())
        .filter(|p| procs::is_ours(p))
        .map(|p| p.pid)
        .collect();
    if !left_pids.is_empty() {
        problems.push(format!("processes left: {left_pids:?}"));
    }
    if problems.is_empty() {
        Ok(Removed {
            pods_deleted: dels.deleted,
            del_failures: dels.failed,
            dead_agents: dels.dead_agents,
            processes: pids.len(),
            namespaces: namespaces.len(),
            state_dir: removed_dir,
        })
    } else {
        Err(LabError::Teardown(problems.join("; ")))
    }
}
