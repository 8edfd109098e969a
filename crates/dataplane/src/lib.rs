//! The node's kernel plumbing: netlink, network namespaces, sysctls and nftables. Shared by the
//! CNI plugins, the agent and the lab. Synchronous: no async runtime.
pub mod nft;
