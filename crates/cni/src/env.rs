//! The runtime's `CNI_*` environment variables, parsed and validated per command.
use std::path::PathBuf;

use crate::error::Error;

/// The operation asked for by `CNI_COMMAND`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    Add,
    Del,
    Check,
    Status,
    Gc,
    Version,
}

impl Command {
    pub fn as_str(self) -> &'static str {
        match self {
            Command::Add => "ADD",
            Command::Del => "DEL",
            Command::Check => "CHECK",
            Command::Status => "STATUS",
            Command::Gc => "GC",
            Command::Version => "VERSION",
        }
    }
}

/// The parsed environment. Which fields are set depends on the command (see [`Env::parse`]).
#[derive(Debug, Clone)]
pub struct Env {
    pub command: Command,
    pub container_id: Option<String>,
    /// `CNI_NETNS` (may be absent or empty for DEL).
    pub netns: Option<String>,
    pub ifname: Option<String>,
    /// `CNI_ARGS` as key/value pairs.
    pub args: Vec<(String, String)>,
    /// `CNI_PATH`, split on `:`.
    pub path: Vec<PathBuf>,
}

/// Validate a container id: `^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`.
pub fn validate_container_id(id: &str) -> Result<(), Error> {
    let ok = id.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidEnv {
            var: "CNI_CONTAINERID",
            detail: format!("{id:?} must match ^[a-zA-Z0-9][a-zA-Z0-9_.-]*$"),
        })
    }
}

impl Env {
    /// Parse from a lookup function (`std::env::var` in the binaries, a map in tests).
    /// Enforces the variables each command requires (code 4 when missing or invalid).
    pub fn parse(get: impl Fn(&str) -> Option<String>) -> Result<Env, Error> {
        let get = |k: &str| get(k).filter(|v| !v.is_empty());
        let command = match get("CNI_COMMAND").as_deref() {
            Some("ADD") => Command::Add,
            Some("DEL") => Command::Del,
            Some("CHECK") => Command::Check,
            Some("STATUS") => Command::Status,
            Some("GC") => Command::Gc,
            Some("VERSION") => Command::Version,
            Some(other) => {
                return Err(Error::InvalidEnv {
                    var: "CNI_COMMAND",
                    detail: format!("{other:?} is not one of ADD, DEL, CHECK, STATUS, GC, VERSION"),
                });
            }
            None => {
                return Err(Error::InvalidEnv {
                    var: "CNI_COMMAND",
                    detail: "is not set".into(),
                });
            }
        };
        let env = Env {
            command,
            container_id: get("CNI_CONTAINERID"),
            netns: get("CNI_NETNS"),
            ifname: get("CNI_IFNAME"),
            args: get("CNI_ARGS")
                .map(|a| {
                    a.split(';')
                        .filter_map(|kv| kv.split_once('='))
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect()
                })
                .unwrap_or_default(),
            path: get("CNI_PATH")
                .map(|p| {
                    p.split(':')
                        .filter(|s| !s.is_empty())
                        .map(PathBuf::from)
                        .collect()
                })
                .unwrap_or_default(),
        };
        let need = |var: &'static str, v: &Option<String>| match v {
            Some(_) => Ok(()),
            None => Err(Error::InvalidEnv {
                var,
                detail: format!("is required for {}", command.as_str()),
            }),
        };
        match command {
            Command::Add | Command::Check => {
                need("CNI_CONTAINERID", &env.container_id)?;
                need("CNI_NETNS", &env.netns)?;
                need("CNI_IFNAME", &env.ifname)?;
            }
            Command::Del => {
                need("CNI_CONTAINERID", &env.container_id)?;
                need("CNI_IFNAME", &env.ifname)?;
            }
            Command::Status | Command::Gc | Command::Version => {}
        }
        if let Some(id) = &env.container_id {
            validate_container_id(id)?;
        }
        if let Some(ifname) = &env.ifname {
            dataplane::netlink::validate_ifname(ifname).map_err(|e| Error::InvalidEnv {
                var: "CNI_IFNAME",
                detail: e.to_string(),
            })?;
        }
        Ok(env)
    }

    /// The container id (validated present for ADD/DEL/CHECK).
    pub fn container_id(&self) -> Result<&str, Error> {
        self.container_id.as_deref().ok_or(Error::InvalidEnv {
            var: "CNI_CONTAINERID",
            detail: "is required".into(),
        })
    }

    /// The interface name (validated present for ADD/DEL/CHECK).
    pub fn ifname(&self) -> Result<&str, Error> {
        self.ifname.as_deref().ok_or(Error::InvalidEnv {
            var: "CNI_IFNAME",
            detail: "is required".into(),
        })
    }

    /// The namespace path (validated present for ADD/CHECK).
    pub fn netns(&self) -> Result<&str, Error> {
        self.netns.as_deref().ok_or(Error::InvalidEnv {
            var: "CNI_NETNS",
            detail: "is required".into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn parse(pairs: &[(&str, &str)]) -> Result<Env, Error> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Env::parse(|k| m.get(k).cloned())
    }

    #[test]
    fn add_needs_container_netns_and_ifname() {
        let e = parse(&[
            ("CNI_COMMAND", "ADD"),
            ("CNI_CONTAINERID", "abc"),
            ("CNI_IFNAME", "eth0"),
        ])
        .unwrap_err();
        assert_eq!(e.code(), 4);
        assert!(e.to_string().contains("CNI_NETNS"));
        let ok = parse(&[
            ("CNI_COMMAND", "ADD"),
            ("CNI_CONTAINERID", "abc"),
            ("CNI_IFNAME", "eth0"),
            ("CNI_NETNS", "/run/netns/x"),
            ("CNI_PATH", "/opt/cni/bin:/usr/lib/cni"),
            ("CNI_ARGS", "K8S_POD_NAME=a;IgnoreUnknown=1"),
        ])
        .unwrap();
        assert_eq!(ok.path.len(), 2);
        assert_eq!(ok.args[0], ("K8S_POD_NAME".to_string(), "a".to_string()));
    }

    #[test]
    fn del_does_not_need_a_netns() {
        assert!(
            parse(&[
                ("CNI_COMMAND", "DEL"),
                ("CNI_CONTAINERID", "abc"),
                ("CNI_IFNAME", "eth0")
            ])
            .is_ok()
        );
    }

    #[test]
    fn bad_ids_and_names_are_rejected() {
        let e = parse(&[
            ("CNI_COMMAND", "DEL"),
            ("CNI_CONTAINERID", "-abc"),
            ("CNI_IFNAME", "eth0"),
        ])
        .unwrap_err();
        assert_eq!(e.code(), 4);
        let e = parse(&[
            ("CNI_COMMAND", "DEL"),
            ("CNI_CONTAINERID", "abc"),
            ("CNI_IFNAME", "a/b"),
        ])
        .unwrap_err();
        assert_eq!(e.code(), 4);
        assert_eq!(parse(&[("CNI_COMMAND", "FOO")]).unwrap_err().code(), 4);
        assert!(parse(&[("CNI_COMMAND", "VERSION")]).is_ok());
    }
}
