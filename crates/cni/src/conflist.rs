//! The conflist the agent writes into the node's CNI configuration directory: `sixfold-cni`
//! (the pod's IPv6) chained with `sixfold-egress-cni` (node-local IPv4, SNATed to the node).
use std::net::Ipv4Addr;
use std::path::PathBuf;

use serde_json::{Value, json};

/// What the conflist depends on.
#[derive(Debug, Clone)]
pub struct Params {
    pub network_name: String,
    pub agent_socket: PathBuf,
    pub node_ipv4: Ipv4Addr,
    pub mtu: u32,
    pub random_fully: bool,
    /// host-local's `dataDir` for the egress addresses.
    pub egress_ipam_data_dir: PathBuf,
    pub cni_version: String,
}

/// Render the conflist JSON.
pub fn render(p: &Params) -> Value {
    json!({
        "cniVersion": p.cni_version,
        "name": p.network_name,
        "plugins": [
            {
                "type": "sixfold-cni",
                "agentSocket": p.agent_socket.display().to_string(),
                "mtu": p.mtu,
            },
            {
                "type": "sixfold-egress-cni",
                "nodeIP": p.node_ipv4.to_string(),
                "randomizeSNAT": p.random_fully,
                "mtu": p.mtu,
                "ipam": {
                    "type": "host-local",
                    "ranges": [[{"subnet": crate::egress::EGRESS_SUBNET, "gateway": crate::egress::EGRESS_GATEWAY}]],
                    "routes": [{"dst": "0.0.0.0/0"}],
                    "dataDir": p.egress_ipam_data_dir.display().to_string(),
                },
            },
        ],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conflist_chains_both_plugins() {
        let v = render(&Params {
            network_name: "sixfold".into(),
            agent_socket: "/run/sixfold/agent.sock".into(),
            node_ipv4: Ipv4Addr::new(10, 0, 1, 5),
            mtu: 9001,
            random_fully: true,
            egress_ipam_data_dir: "/var/lib/sixfold/egress".into(),
            cni_version: "1.0.0".into(),
        });
        assert_eq!(v["plugins"][0]["type"], "sixfold-cni");
        assert_eq!(v["plugins"][0]["agentSocket"], "/run/sixfold/agent.sock");
        assert_eq!(v["plugins"][1]["nodeIP"], "10.0.1.5");
        assert_eq!(v["plugins"][1]["randomizeSNAT"], true);
        assert_eq!(
            v["plugins"][1]["ipam"]["ranges"][0][0]["subnet"],
            "169.254.172.0/22"
        );
        assert_eq!(
            v["plugins"][1]["ipam"]["ranges"][0][0]["gateway"],
            "169.254.172.1"
        );
        assert_eq!(v["plugins"][1]["ipam"]["routes"][0]["dst"], "0.0.0.0/0");
        assert_eq!(
            v["plugins"][1]["ipam"]["dataDir"],
            "/var/lib/sixfold/egress"
        );
    }
}
