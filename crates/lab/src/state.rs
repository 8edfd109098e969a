//! The lab's state file (`<state dir>/lab.json`): everything the lab created, written
//! atomically (temp file + rename) as things are created, so `down` works after a crash of `up`
//! and `status` reads the address map from it. The format is documented by these types.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{LabError, Result};

/// The state file's name inside the state dir.
pub const STATE_FILE: &str = "lab.json";

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
}
