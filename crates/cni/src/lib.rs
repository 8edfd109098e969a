//! CNI for sixfold: the CNI 1.1.0 types (configuration, environment, results for 0.3.0 to
//! 1.1.0, errors), a `skel`-like harness, and the logic of the two plugin binaries:
//! [`pod`] (`sixfold-cni`, the pod's IPv6) and [`egress`] (`sixfold-egress-cni`, node-local
//! IPv4 SNATed to the node), with what both share in [`attachment`] and [`veth`]. Synchronous, no async runtime: plugins start fast.
pub mod agent;
pub mod attachment;
pub mod config;
pub mod conflist;
pub mod delegate;
pub mod egress;
pub mod env;
pub mod error;
pub mod names;
pub mod pod;
pub mod result;
pub mod skel;
pub mod version;
pub mod veth;

pub use error::Error;
