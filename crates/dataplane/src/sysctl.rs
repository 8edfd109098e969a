//! Sysctls under `/proc/sys/net`. A file there belongs to the network namespace of the thread
//! that opens it (verified by a root test), so call these inside [`crate::netns::NetNs::run`]
//! to act on another namespace.
use std::fs;
use std::path::PathBuf;

use crate::error::{Error, Result};

/// A sysctl key such as `net.ipv6.conf.all.forwarding`, or built from parts so that interface
/// names containing dots (`eth0.100`) stay intact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key(Vec<String>);

impl Key {
    /// Parse a dotted key; only keys under `net.` are accepted.
    pub fn parse(dotted: &str) -> Result<Key> {
        Key::from_parts(&dotted.split('.').collect::<Vec<_>>())
    }

    /// Build from path components, e.g. `["net", "ipv6", "conf", "eth0", "accept_dad"]`.
    pub fn from_parts(parts: &[&str]) -> Result<Key> {
        let bad = |why: &str| Error::Invalid {
            what: "sysctl key",
            detail: format!("{} {why}", parts.join(".")),
        };
        if parts.first() != Some(&"net") {
            return Err(bad("must start with `net.`"));
        }
        if parts
            .iter()
            .any(|p| p.is_empty() || *p == "." || *p == ".." || p.contains('/'))
        {
            return Err(bad("has an empty, `..` or `/` component"));
        }
        Ok(Key(parts.iter().map(|s| s.to_string()).collect()))
    }

    /// `net.<ipv4|ipv6>.conf.<iface>.<leaf>`.
    pub fn conf(v6: bool, iface: &str, leaf: &str) -> Result<Key> {
        Key::from_parts(&["net", if v6 { "ipv6" } else { "ipv4" }, "conf", iface, leaf])
    }

    fn path(&self) -> PathBuf {
        let mut p = PathBuf::from("/proc/sys");
        p.extend(&self.0);
        p
    }

    fn dotted(&self) -> String {
        self.0.join(".")
    }
}

/// Read a sysctl (trimmed).
pub fn read(key: &Key) -> Result<String> {
    crate::trace::span(
        || format!("sysctl read {}", key.dotted()),
        || fs::read_to_string(key.path()),
    )
    .map(|s| s.trim().to_string())
    .map_err(|source| Error::Sysctl {
        key: key.dotted(),
        source,
    })
}

/// Write a sysctl unconditionally.
pub fn write(key: &Key, value: &str) -> Result<()> {
    crate::trace::span(
        || format!("sysctl write {}", key.dotted()),
        || fs::write(key.path(), value),
    )
    .map_err(|source| Error::Sysctl {
        key: key.dotted(),
        source,
    })
}

/// Write only if the current value differs; returns the previous value.
pub fn ensure(key: &Key, value: &str) -> Result<String> {
    let old = read(key)?;
    if old != value {
        write(key, value)?;
    }
    Ok(old)
}

/// Turn on IPv6 forwarding, first moving every `accept_ra=1` (all, default, each interface) to
/// `2` so router advertisements keep being honoured once forwarding is on. Idempotent.
pub fn enable_ipv6_forwarding() -> Result<()> {
    let fwd = Key::parse("net.ipv6.conf.all.forwarding")?;
    if read(&fwd)? == "1" {
        return Ok(());
    }
    let dir = "/proc/sys/net/ipv6/conf";
    let entries = fs::read_dir(dir).map_err(|source| Error::Sysctl {
        key: "net.ipv6.conf".into(),
        source,
    })?;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let key = Key::conf(true, &name, "accept_ra")?;
        // An interface can vanish between listing and reading: skip it.
        if let Ok(v) = read(&key)
            && v == "1"
        {
            write(&key, "2")?;
        }
    }
    write(&fwd, "1")
}

/// Turn on IPv4 forwarding. Idempotent.
pub fn enable_ipv4_forwarding() -> Result<()> {
    ensure(&Key::parse("net.ipv4.ip_forward")?, "1").map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_stay_under_proc_sys_net() {
        assert_eq!(
            Key::parse("net.ipv4.ip_forward").unwrap().path(),
            PathBuf::from("/proc/sys/net/ipv4/ip_forward")
        );
        assert_eq!(
            Key::conf(true, "eth0.100", "accept_dad").unwrap().path(),
            PathBuf::from("/proc/sys/net/ipv6/conf/eth0.100/accept_dad")
        );
        assert!(Key::parse("kernel.hostname").is_err());
        assert!(Key::from_parts(&["net", "..", "x"]).is_err());
        assert!(Key::from_parts(&["net", "a/b"]).is_err());
    }
}
