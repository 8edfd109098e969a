//! The plugins' error type and the ONE mapping of errors to CNI error codes and JSON.
use std::error::Error as _;

use serde::Serialize;

use crate::version::CniVersion;

/// CNI error codes (spec 1.1.0 well-known codes, then this project's own).
pub mod code {
    pub const INCOMPATIBLE_VERSION: u32 = 1;
    pub const UNSUPPORTED_FIELD: u32 = 2;
    pub const UNKNOWN_CONTAINER: u32 = 3;
    pub const INVALID_ENV: u32 = 4;
    pub const IO: u32 = 5;
    pub const DECODE: u32 = 6;
    pub const INVALID_CONFIG: u32 = 7;
    pub const TRY_AGAIN_LATER: u32 = 11;
    pub const PLUGIN_NOT_AVAILABLE: u32 = 50;
    /// Anything else that went wrong inside the plugin.
    pub const INTERNAL: u32 = 999;
    /// CHECK found the pod's network differs from what ADD built.
    pub const CHECK_FAILED: u32 = 1000;
    /// ADD found an interface of this attachment already present.
    pub const ALREADY_EXISTS: u32 = 1001;
}

/// Everything a plugin invocation can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("unsupported cniVersion {got:?}; use one of {}", crate::version::CniVersion::supported_strings().join(", "))]
    IncompatibleVersion { got: String },
    #[error("{command} is not defined for cniVersion {version}; use cniVersion {needs} or newer")]
    CommandNotInVersion {
        command: &'static str,
        version: CniVersion,
        needs: &'static str,
    },
    #[error("invalid environment variable {var}: {detail}")]
    InvalidEnv { var: &'static str, detail: String },
    #[error(
        "the network configuration on stdin is not valid JSON: {0}; pass the conflist entry as one JSON object"
    )]
    Decode(#[source] serde_json::Error),
    #[error("invalid network configuration: {0}")]
    InvalidConfig(String),
    #[error("the container's network namespace {netns} is not usable: {source}")]
    UnknownContainer {
        netns: String,
        #[source]
        source: dataplane::Error,
    },
    #[error("{what}: {source}")]
    Dataplane {
        what: String,
        #[source]
        source: dataplane::Error,
    },
    #[error("the sixfold agent: {0}")]
    Agent(#[source] agent_api::ClientError),
    #[error("the sixfold agent is not available: {0}")]
    AgentUnavailable(#[source] agent_api::ClientError),
    #[error("the plugin is not available: {0}")]
    NotAvailable(String),
    #[error("IPAM plugin {plugin} failed (CNI code {code}): {msg}")]
    Ipam {
        plugin: String,
        code: u32,
        msg: String,
    },
    #[error("CHECK failed, missing or different: {}", .0.join("; "))]
    CheckFailed(Vec<String>),
    #[error("{what} already exists; run DEL for this attachment first")]
    AlreadyExists { what: String },
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    /// Several independent teardown steps failed (best-effort DEL/GC).
    #[error("{} teardown step(s) failed: {}", .0.len(), .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("; "))]
    Many(Vec<Error>),
}

impl Error {
    /// Shorthand for a dataplane step that failed.
    pub fn dp(what: impl Into<String>) -> impl FnOnce(dataplane::Error) -> Error {
        let what = what.into();
        move |source| Error::Dataplane { what, source }
    }

    /// The CNI error code: the one place where errors meet the protocol.
    pub fn code(&self) -> u32 {
        use agent_api::{ClientError, ErrorKind};
        match self {
            Error::IncompatibleVersion { .. } | Error::CommandNotInVersion { .. } => {
                code::INCOMPATIBLE_VERSION
            }
            Error::InvalidEnv { .. } => code::INVALID_ENV,
            Error::Decode(_) => code::DECODE,
            Error::InvalidConfig(_) => code::INVALID_CONFIG,
            Error::UnknownContainer { .. } => code::UNKNOWN_CONTAINER,
            Error::Dataplane { .. } => code::INTERNAL,
            Error::Agent(e) => match e {
                ClientError::Connect { .. } | ClientError::Io { .. } => code::TRY_AGAIN_LATER,
                ClientError::Agent {
                    kind: ErrorKind::Exhausted | ErrorKind::NotReady | ErrorKind::Busy,
                    ..
                } => code::TRY_AGAIN_LATER,
                ClientError::Agent {
                    kind: ErrorKind::InvalidRequest,
                    ..
                } => code::INVALID_CONFIG,
                _ => code::INTERNAL,
            },
            Error::AgentUnavailable(_) | Error::NotAvailable(_) => code::PLUGIN_NOT_AVAILABLE,
            Error::Ipam { code, .. } => *code,
            Error::CheckFailed(_) => code::CHECK_FAILED,
            Error::AlreadyExists { .. } => code::ALREADY_EXISTS,
            Error::Io { .. } => code::IO,
            Error::Many(errs) => errs.first().map(Error::code).unwrap_or(code::INTERNAL),
        }
    }

    /// The CNI error object for this error, in `version`'s shape.
    pub fn to_cni(&self, version: CniVersion) -> CniError {
        let mut details = Vec::new();
        let mut src = self.source();
        while let Some(s) = src {
            details.push(s.to_string());
            src = s.source();
        }
        CniError {
            cni_version: version.as_str().to_string(),
            code: self.code(),
            msg: self.to_string(),
            details: details.join(": "),
        }
    }
}

/// The error object printed on stdout (`{"cniVersion","code","msg","details"}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct CniError {
    #[serde(rename = "cniVersion")]
    pub cni_version: String,
    pub code: u32,
    pub msg: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub details: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_map_to_spec_codes() {
        assert_eq!(Error::IncompatibleVersion { got: "9".into() }.code(), 1);
        assert_eq!(
            Error::InvalidEnv {
                var: "CNI_IFNAME",
                detail: "x".into()
            }
            .code(),
            4
        );
        assert_eq!(
            Error::Decode(serde_json::from_str::<serde_json::Value>("{").unwrap_err()).code(),
            6
        );
        assert_eq!(Error::InvalidConfig("x".into()).code(), 7);
        let refused = agent_api::ClientError::Agent {
            kind: agent_api::ErrorKind::Exhausted,
            message: "full".into(),
        };
        assert_eq!(Error::Agent(refused).code(), 11);
        let gone = agent_api::ClientError::Connect {
            path: "/x".into(),
            source: std::io::ErrorKind::NotFound.into(),
        };
        assert_eq!(Error::AgentUnavailable(gone).code(), 50);
        assert_eq!(Error::CheckFailed(vec!["route".into()]).code(), 1000);
    }

    #[test]
    fn error_json_has_the_spec_shape() {
        let e = Error::UnknownContainer {
            netns: "/run/netns/x".into(),
            source: dataplane::Error::NetnsGone {
                path: "/run/netns/x".into(),
            },
        };
        let v = serde_json::to_value(e.to_cni(CniVersion::V1_0_0)).unwrap();
        assert_eq!(v["cniVersion"], "1.0.0");
        assert_eq!(v["code"], 3);
        assert!(v["msg"].as_str().unwrap().contains("/run/netns/x"));
        assert!(v["details"].as_str().unwrap().contains("gone"));
        let keys: Vec<_> = v.as_object().unwrap().keys().cloned().collect();
        assert_eq!(keys, ["cniVersion", "code", "details", "msg"]);
    }
}
