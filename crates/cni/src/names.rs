//! Deterministic host-side names and labels for an attachment, so DEL and GC need no state.
//!
//! The host veth is `<prefix>` + the first 11 hex digits of SHA-256 over
//! `network \0 container id \0 ifname` (3 + 11 = 14 bytes, within the kernel's 15). Its
//! alias records the attachment (`<tag>/<network>/<container id>/<ifname>`) so that GC can tell
//! this plugin's leftovers apart from everything else on the node.
use sha2::{Digest, Sha256};

/// Host veth prefix of the main plugin (as the reference: `eni...`).
pub const POD_PREFIX: &str = "eni";
/// Host veth prefix of the egress plugin.
pub const EGRESS_PREFIX: &str = "egr";

/// The host-side interface name for an attachment.
pub fn host_veth(prefix: &str, network: &str, container_id: &str, ifname: &str) -> String {
    let mut h = Sha256::new();
    h.update(network.as_bytes());
    h.update([0]);
    h.update(container_id.as_bytes());
    h.update([0]);
    h.update(ifname.as_bytes());
    let digest = h.finalize();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("{prefix}{}", &hex[..11])
}

/// The alias stored on a host veth.
pub fn alias(tag: &str, network: &str, container_id: &str, ifname: &str) -> String {
    format!("{tag}/{network}/{container_id}/{ifname}")
}

/// Parse an alias written by [`alias`] with `tag`: `(network, container id, ifname)`.
pub fn parse_alias<'a>(tag: &str, alias: &'a str) -> Option<(&'a str, &'a str, &'a str)> {
    let rest = alias.strip_prefix(tag)?.strip_prefix('/')?;
    let mut parts = rest.split('/');
    let (n, c, i) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    Some((n, c, i))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names_are_deterministic_and_short() {
        let a = host_veth(POD_PREFIX, "sixfold", "abc", "eth0");
        assert_eq!(a, host_veth(POD_PREFIX, "sixfold", "abc", "eth0"));
        assert_eq!(a.len(), 14);
        assert!(a.starts_with("eni") && a[3..].chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, host_veth(POD_PREFIX, "sixfold", "abc", "eth1"));
        assert_ne!(a, host_veth(POD_PREFIX, "other", "abc", "eth0"));
        // The separator keeps ("ab","c") and ("a","bc") apart.
        assert_ne!(
            host_veth(POD_PREFIX, "n", "ab", "c"),
            host_veth(POD_PREFIX, "n", "a", "bc")
        );
        assert_eq!(
            host_veth(POD_PREFIX, "sixfold", "abc", "eth0"),
            "eni".to_string() + &a[3..]
        );
    }

    #[test]
    fn aliases_round_trip() {
        let a = alias("sixfold", "net", "cid", "eth0");
        assert_eq!(parse_alias("sixfold", &a), Some(("net", "cid", "eth0")));
        assert_eq!(parse_alias("sixfold-egress", &a), None);
        assert_eq!(parse_alias("sixfold", "sixfold/a/b"), None);
    }
}
