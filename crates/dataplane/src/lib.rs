//! The node's kernel plumbing: netlink, network namespaces, sysctls and nftables. Shared by the
//! CNI plugins, the agent and the lab. Synchronous: no async runtime.
//!
//! - [`netlink`]: a small hand-rolled rtnetlink client (links, veth pairs, addresses, routes,
//!   neighbours). Every sharp call (interrupted dumps, `EEXIST`/`ENOENT`) is wrapped once.
//! - [`netns`]: the only place that switches network namespaces, always on a fresh OS thread.
//! - [`sysctl`]: `/proc/sys/net` reads and writes in the calling thread's namespace.
//! - [`nft`]: the node-wide egress table (SNAT of pod IPv4 and the guard on 169.254.172.0/22).
//! - [`trace`]: opt-in per-step timings for the benchmark.
pub mod error;
pub mod exec;
pub mod netlink;
pub mod netns;
pub mod nft;
pub mod sysctl;
pub mod trace;

pub use error::Error;

/// Prepare the current network namespace to route pod traffic: IPv6 and IPv4 forwarding on,
/// and router advertisements still honoured where they were (`accept_ra` 1 becomes 2, since
/// forwarding turns plain `1` off). Idempotent; writes only what differs.
pub fn node_setup() -> Result<(), Error> {
    sysctl::enable_ipv6_forwarding()?;
    sysctl::enable_ipv4_forwarding()?;
    Ok(())
}
