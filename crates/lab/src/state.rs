//! The lab's state file (`<state dir>/lab.json`): everything the lab created, written
//! atomically (temp file + rename) as things are created, so `down` works after a crash of `up`
//! and `status` reads the address map from it. The format is documented by these types.
//!
//! Once `up` has finished, several processes change a running lab (the reconciler, `sixfold
//! pod ...`, `sixfold service expose`): each does so only through [`LabState::update`], a
//! read-modify-write under an exclusive `flock` of `<state dir>/state.lock`, so none loses
//! another's write.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::error::{LabError, Result};

/// The state file's name inside the state dir.
pub const STATE_FILE: &str = "lab.json";
/// The lock file serialising [`LabState::update`]s, inside the state dir.
pub const LOCK_FILE: &str = "state.lock";
/// How long [`LabState::update`] waits for another writer (a reconciler adding a node holds
/// the lock for a few seconds) before giving up with [`LabError::Locked`].
pub const LOCK_WAIT: Duration = Duration::from_secs(120);

/// A background process the lab started, recorded with its exact command line so that `down`
/// kills it only if `/proc/PID/cmdline` still matches (never a recycled pid).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Process {
    /// What it is: `region`, `forwarder`, `agent node1`, `pod web-1-1`, ...
    pub role: String,
    pub pid: u32,
    /// argv as started.
    pub argv: Vec<String>,
    /// Its log file.
    pub log: PathBuf,
}

/// The embedded region.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegionInfo {
    /// `http://127.0.0.1:PORT` (root namespace loopback).
    pub endpoint: String,
    pub data_dir: PathBuf,
    pub credentials: PathBuf,
}

/// One subnet of the VPC.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubnetInfo {
    pub id: String,
    pub zone: String,
    pub ipv4: String,
    pub ipv6: String,
}

/// The VPC as created through the region's API.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VpcInfo {
    pub id: String,
    pub ipv4: String,
    pub ipv6: String,
    pub subnets: Vec<SubnetInfo>,
    pub internet_gateway: String,
    pub egress_only_gateway: String,
    pub route_table: String,
    pub security_group: String,
}

/// The cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterInfo {
    pub name: String,
    pub ip_family: String,
    /// The service /108 (unique-local), chosen by the region.
    pub service_cidr: String,
    /// `<prefix>::a`.
    pub dns: Ipv6Addr,
    /// Who chose the service CIDR: always `eks` (CreateCluster through the region).
    pub source: String,
    /// The node group, when EKS launched the nodes.
    pub nodegroup: Option<String>,
    /// The vpc-cni add-on version, when installed through EKS.
    pub vpc_cni: Option<String>,
    /// The role the agents assume through IRSA (`kube-system:aws-node`), when they use IRSA.
    #[serde(default)]
    pub cni_role: Option<String>,
    /// The agents use the node role from IMDS (`up --cni-credentials node-role`). Neither this
    /// nor `cni_role` (an adopted cluster): the region credentials file the lab holds.
    #[serde(default)]
    pub cni_node_role: bool,
}

/// One EC2 node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeInfo {
    pub name: String,
    pub netns: String,
    pub instance_id: String,
    pub eni: String,
    pub zone: String,
    pub ipv4: Ipv4Addr,
    pub public_ipv4: Ipv4Addr,
    pub ipv6: Ipv6Addr,
    /// The delegated /80 (known once the agent has acquired it).
    pub prefix: Option<String>,
    pub agent_socket: PathBuf,
    pub conf_dir: PathBuf,
}

/// One pod (EC2 or Fargate).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PodInfo {
    pub name: String,
    pub namespace: String,
    /// The node's name, or `fargate`.
    pub node: String,
    pub netns: String,
    pub container_id: String,
    pub ipv6: Ipv6Addr,
    /// The node-local egress IPv4 (EC2 pods) or the unit's own IPv4 (Fargate).
    pub ipv4: Option<Ipv4Addr>,
    pub fargate: bool,
    /// The instance standing for the Fargate unit's ENI.
    pub instance_id: Option<String>,
    /// A pod with its own security groups: its branch network interface (its address and
    /// groups come from it; see `policy::branch`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch_eni: Option<String>,
    /// The pod's own security groups (security groups for pods); empty: the node's groups.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub security_groups: Vec<String>,
    /// When the pod was made (RFC 3339, UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
}

/// One service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceInfo {
    pub name: String,
    pub namespace: String,
    pub cluster_ip: Ipv6Addr,
    pub port: u16,
    pub target_port: u16,
    /// Pod names.
    pub backends: Vec<String>,
    /// `NAME.NAMESPACE.svc.cluster.local`.
    pub dns_name: String,
}

/// Everything the lab knows about itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabState {
    pub name: String,
    pub state_dir: PathBuf,
    /// `building` while `up` runs, `up` once proven, `failed` if a check failed.
    pub phase: String,
    pub namespaces: Vec<String>,
    pub processes: Vec<Process>,
    pub region: Option<RegionInfo>,
    pub vpc: Option<VpcInfo>,
    pub cluster: Option<ClusterInfo>,
    pub nodes: Vec<NodeInfo>,
    pub pods: Vec<PodInfo>,
    pub services: Vec<ServiceInfo>,
    pub internet_ipv4: Ipv4Addr,
    pub internet_ipv6: Ipv6Addr,
    /// Where the CNI plugins are (`up --bin-dir`, or next to the executable), so that
    /// `pod run`, `pod delete` and `down` run the same plugins `up` ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cni_bin_dir: Option<PathBuf>,
    /// Pods of the lab's workload on every node (`up --pods-per-node`): the reconciler wires
    /// as many on each node it adds.
    #[serde(default)]
    pub pods_per_node: usize,
    /// Load balancers (`sixfold service expose`), see [`crate::lb`].
    #[serde(default)]
    pub load_balancers: Vec<crate::lb::LoadBalancerInfo>,
}

impl LabState {
    /// A fresh state for lab `name`.
    pub fn new(name: &str, state_dir: &Path) -> LabState {
        LabState {
            name: name.to_owned(),
            state_dir: state_dir.to_owned(),
            phase: "building".into(),
            namespaces: Vec::new(),
            processes: Vec::new(),
            region: None,
            vpc: None,
            cluster: None,
            nodes: Vec::new(),
            pods: Vec::new(),
            services: Vec::new(),
            internet_ipv4: crate::plan::INTERNET_V4,
            internet_ipv6: crate::plan::INTERNET_V6,
            cni_bin_dir: None,
            pods_per_node: 0,
            load_balancers: Vec::new(),
        }
    }

    /// The state file of `state_dir`.
    pub fn path(state_dir: &Path) -> PathBuf {
        state_dir.join(STATE_FILE)
    }

    /// Read the state of `state_dir`; `Ok(None)` if there is none.
    pub fn load(state_dir: &Path) -> Result<Option<LabState>> {
        let path = Self::path(state_dir);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|source| LabError::State { path, source }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(LabError::Io {
                what: "reading the lab state",
                path,
                source,
            }),
        }
    }

    /// Write the state atomically: a reader (or a later `down`) sees the old file or the new
    /// one. Not fsynced: it must survive a crash of `up`, not of the machine (the lab's
    /// namespaces do not survive a reboot either).
    pub fn save(&self) -> Result<()> {
        let path = Self::path(&self.state_dir);
        let tmp = self.state_dir.join(format!(".{STATE_FILE}.tmp"));
        let bytes = serde_json::to_vec_pretty(self).map_err(|source| LabError::State {
            path: path.clone(),
            source,
        })?;
        std::fs::write(&tmp, bytes).map_err(LabError::io("writing the lab state", &tmp))?;
        std::fs::rename(&tmp, &path).map_err(LabError::io("writing the lab state", &path))
    }

    /// Read-modify-write the state of the running lab `name` under an exclusive lock of
    /// `<state_dir>/state.lock`: load, call `f`, save if `f` changed anything, unlock. Writers
    /// that all go through here never lose each other's changes. The state is saved even when
    /// `f` fails, because it records what exists (namespaces and processes are recorded before
    /// they are made, so `down` removes them); `f` may also call [`LabState::save`] itself
    /// between steps (it holds the lock). Fails with [`LabError::NoLab`] when the lab has no
    /// state file (it is down), and with [`LabError::Locked`] after [`LOCK_WAIT`].
    pub fn update<T>(
        name: &str,
        state_dir: &Path,
        f: impl FnOnce(&mut LabState) -> Result<T>,
    ) -> Result<T> {
        let _lock = StateLock::acquire(state_dir, LOCK_WAIT)?;
        let mut state = Self::load(state_dir)?.ok_or_else(|| LabError::NoLab {
            name: name.to_owned(),
            path: Self::path(state_dir),
        })?;
        let before = state.clone();
        let out = f(&mut state);
        if state != before {
            state.save()?;
        }
        out
    }

    /// Record a namespace (before it is created, so a crash in between still removes it).
    pub fn add_namespaces(&mut self, names: &[String]) -> Result<()> {
        for n in names {
            if !self.namespaces.contains(n) {
                self.namespaces.push(n.clone());
            }
        }
        self.save()
    }

    /// The pod named `name`.
    pub fn pod(&self, name: &str) -> Option<&PodInfo> {
        self.pods.iter().find(|p| p.name == name)
    }

    /// The node named `name`.
    pub fn node(&self, name: &str) -> Option<&NodeInfo> {
        self.nodes.iter().find(|n| n.name == name)
    }
}

/// An exclusive `flock` of `<state dir>/state.lock`, released when dropped (or when the
/// holder dies: the kernel drops the lock with the last descriptor).
#[derive(Debug)]
pub struct StateLock {
    file: std::fs::File,
}

impl StateLock {
    /// Take the lock, polling every few milliseconds for at most `wait`.
    pub fn acquire(state_dir: &Path, wait: Duration) -> Result<StateLock> {
        let path = state_dir.join(LOCK_FILE);
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(LabError::io("opening the state lock", &path))?;
        let start = Instant::now();
        let mut delay = Duration::from_millis(1);
        loop {
            // SAFETY: flock(2) on a descriptor this function owns; no memory is touched.
            let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
            if rc == 0 {
                return Ok(StateLock { file });
            }
            let err = std::io::Error::last_os_error();
            if err.kind() != std::io::ErrorKind::WouldBlock {
                return Err(LabError::Io {
                    what: "locking the lab state",
                    path,
                    source: err,
                });
            }
            if start.elapsed() >= wait {
                return Err(LabError::Locked { path, waited: wait });
            }
            std::thread::sleep(delay);
            delay = (delay * 2).min(Duration::from_millis(20));
        }
    }
}

impl Drop for StateLock {
    fn drop(&mut self) {
        // SAFETY: flock(2) on the descriptor this lock owns; closing it would unlock anyway.
        unsafe {
            libc::flock(self.file.as_raw_fd(), libc::LOCK_UN);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_round_trips_atomically() {
        let dir = tempfile::tempdir().unwrap();
        assert!(LabState::load(dir.path()).unwrap().is_none());
        let mut s = LabState::new("t", dir.path());
        s.add_namespaces(&["sfl-t-vpc".into(), "sfl-t-vpc".into()])
            .unwrap();
        let back = LabState::load(dir.path()).unwrap().unwrap();
        assert_eq!(back, s);
        assert_eq!(back.namespaces, ["sfl-t-vpc"]);
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names, [STATE_FILE], "no temp file left");
    }

    #[test]
    fn concurrent_updates_lose_no_write() {
        let dir = tempfile::tempdir().unwrap();
        LabState::new("t", dir.path()).save().unwrap();
        std::thread::scope(|s| {
            for t in 0..4 {
                let dir = dir.path();
                s.spawn(move || {
                    for i in 0..25 {
                        LabState::update("t", dir, |st| {
                            let seen = st.namespaces.len();
                            // Widen the window a lost update would need.
                            std::thread::sleep(Duration::from_micros(200));
                            st.namespaces.push(format!("t{t}-{i}-after-{seen}"));
                            Ok(())
                        })
                        .unwrap();
                    }
                });
            }
        });
        let back = LabState::load(dir.path()).unwrap().unwrap();
        assert_eq!(back.namespaces.len(), 100, "every writer's change is kept");
    }

    #[test]
    fn update_saves_what_was_recorded_even_when_it_fails() {
        let dir = tempfile::tempdir().unwrap();
        LabState::new("t", dir.path()).save().unwrap();
        let r: Result<()> = LabState::update("t", dir.path(), |st| {
            st.namespaces.push("sfl-t-node9".into());
            Err(LabError::Command {
                what: "adding node9".into(),
                detail: "failed on purpose".into(),
            })
        });
        assert!(r.is_err());
        let back = LabState::load(dir.path()).unwrap().unwrap();
        assert_eq!(back.namespaces, ["sfl-t-node9"]);
    }

    #[test]
    fn update_of_a_lab_that_is_down_names_it() {
        let dir = tempfile::tempdir().unwrap();
        let e = LabState::update("gone", dir.path(), |_| Ok(())).unwrap_err();
        assert!(
            matches!(e, LabError::NoLab { ref name, .. } if name == "gone"),
            "{e}"
        );
    }

    #[test]
    fn a_held_lock_times_out_with_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let _held = StateLock::acquire(dir.path(), Duration::from_secs(1)).unwrap();
        // flock locks belong to the open file description: a second open conflicts even in
        // the same process.
        let e = StateLock::acquire(dir.path(), Duration::from_millis(50)).unwrap_err();
        assert!(matches!(e, LabError::Locked { .. }), "{e}");
        assert!(e.to_string().contains(LOCK_FILE), "{e}");
    }
}
