//! The sixfold lab: `sixfold up` builds a whole IPv6 EKS-style cluster on one Linux machine out
//! of network namespaces and proves every path with real packets; `status` prints its address
//! map; `down` removes everything it made, even after a crash of `up`.
//!
//! The picture (every box is a namespace named `sfl-<lab>-...`; nothing in the root namespace):
//!
//! ```text
//!   pods ──veth── node1..N ──┐                       ┌── igw (1:1 NAT 10.0.x.y ↔ 198.51.100.z) ──┐
//!  (sixfold-cni +            ├── vpc (VPC router) ───┤                                            ├── inet
//!   egress-cni)   fargate ───┤   routes subnets,     └── eigw (IPv6 out, only replies in) ────────┘  203.0.113.10
//!                 dns ───────┘   nodes' /80s                                                          2001:db8:ffff::10
//! ```
//!
//! - [`plan`]: names and the addresses the lab chooses (pure);
//! - [`region`], [`eks`]: the embedded region and the calls made through its APIs; [`adopt`]:
//!   a cluster the user made in a running region instead (`up --cluster`);
//! - [`topo`]: namespaces, veths, addresses, routes (netlink); [`network`]: router, gateways,
//!   internet; [`pods`]: the real CNI chain; [`workloads`]: agents, pods, services, DNS;
//! - [`services`]: ClusterIPs from the /108, kube-proxy's nftables DNAT, DNS records (pure);
//! - [`dns`]: the DNS codec (pure); [`daemons`]: responder, DNS server, region forwarder;
//! - [`policy`]: route tables and security groups of the region enforced on real packets
//!   (per-subnet policy routing in the router, one nftables ruleset per node, branch interfaces
//!   for pods with their own groups);
//! - [`lb`]: load balancers (`service expose`, the `lab-lb` daemon, target groups following pods);
//! - [`probe`], [`matrix`]: the connectivity checks; [`state`]: the state file;
//! - [`procs`]: background processes; [`up`], [`down`], [`status`]: the three commands;
//! - [`podcmd`]: workloads in a running lab (`pod run/delete/list`, `exec`, CNI DEL on `down`);
//! - [`reconcile`]: the dataplane follows the region's change feed ([`nodes`]: node groups).

pub mod adopt;
pub mod daemons;
pub mod dns;
pub mod down;
pub mod eks;
pub mod error;
pub mod imds;
pub mod lb;
pub mod matrix;
pub mod network;
pub mod nodes;
pub mod plan;
pub mod podcmd;
pub mod pods;
pub mod policy;
pub mod probe;
pub mod procs;
pub mod reconcile;
pub mod region;
pub mod services;
pub mod state;
pub mod status;
pub mod topo;
pub mod up;
pub mod workloads;

pub use error::{LabError, Result};
pub use state::LabState;

use std::path::{Path, PathBuf};

/// Where a lab's state lives by default: `/run/sixfold-lab/<name>` (tmpfs, like the
/// namespaces themselves: both are gone after a reboot).
pub fn default_state_dir(name: &str) -> PathBuf {
    Path::new("/run/sixfold-lab").join(name)
}

/// Fail with a helpful message unless running as root.
pub fn require_root() -> Result<()> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } == 0 {
        Ok(())
    } else {
        Err(LabError::NotRoot {
            exe: std::env::args().next().unwrap_or_else(|| "sixfold".into()),
        })
    }
}
