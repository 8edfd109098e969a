//! nftables: the node's egress table (SNAT of pod IPv4 to the node, guard on 169.254.172.0/22).
use std::net::Ipv4Addr;

/// What the node-wide egress table needs.
#[derive(Debug, Clone)]
pub struct NodeEgress {
    /// The node's primary IPv4: the SNAT source for pod IPv4 egress.
    pub node_ipv4: Ipv4Addr,
    /// Use fully random SNAT ports.
    pub random_fully: bool,
}

/// Create (idempotently) the node's egress nftables table in the current network namespace.
pub fn ensure_node_egress(_cfg: &NodeEgress) -> std::io::Result<()> {
    unimplemented!("being written")
}
