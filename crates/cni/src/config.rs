//! The network configuration on stdin: the fields every plugin shares. Plugin-specific fields
//! are read by each plugin from the same JSON (see [`crate::pod`], [`crate::egress`]).
use serde::Deserialize;
use serde_json::Value;

use crate::error::Error;
use crate::result::CniResult;
use crate::version::CniVersion;

/// One entry of `cni.dev/valid-attachments` (GC).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize)]
pub struct ValidAttachment {
    #[serde(rename = "containerID")]
    pub container_id: String,
    pub ifname: String,
}

#[derive(Deserialize)]
struct Raw {
    #[serde(rename = "cniVersion")]
    cni_version: Option<String>,
    name: Option<String>,
    #[serde(rename = "type")]
    plugin_type: Option<String>,
    #[serde(rename = "prevResult")]
    prev_result: Option<Value>,
    #[serde(rename = "cni.dev/valid-attachments")]
    valid_attachments: Option<Vec<ValidAttachment>>,
}

/// The common part of a plugin's network configuration.
#[derive(Debug, Clone)]
pub struct NetConf {
    pub cni_version: CniVersion,
    /// Network name (validated against `^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`).
    pub name: String,
    pub plugin_type: String,
    /// The previous plugin's result (chained plugins, CHECK), parsed.
    pub prev_result: Option<CniResult>,
    /// The previous result as it came, to pass through untouched.
    pub prev_result_raw: Option<Value>,
    pub valid_attachments: Option<Vec<ValidAttachment>>,
    /// The whole configuration object, for plugin-specific fields.
    pub raw: Value,
}

/// Read just the version (for VERSION and for shaping errors); `None` if absent or unparsable.
pub fn peek_version(stdin: &[u8]) -> Option<String> {
    let v: Value = serde_json::from_slice(stdin).ok()?;
    v.get("cniVersion")?.as_str().map(str::to_string)
}

fn valid_name(name: &str) -> bool {
    name.chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

impl NetConf {
    /// Parse and validate: JSON errors are code 6, a missing or bad field code 7, an
    /// unsupported version code 1.
    pub fn parse(stdin: &[u8]) -> Result<NetConf, Error> {
        let raw: Value = serde_json::from_slice(stdin).map_err(Error::Decode)?;
        if !raw.is_object() {
            return Err(Error::InvalidConfig(
                "the configuration must be a JSON object".into(),
            ));
        }
        let r: Raw =
            serde_json::from_value(raw.clone()).map_err(|e| Error::InvalidConfig(e.to_string()))?;
        let version = r.cni_version.ok_or_else(|| {
            Error::InvalidConfig("`cniVersion` is missing; set it, e.g. \"1.0.0\"".into())
        })?;
        let cni_version =
            CniVersion::parse(&version).ok_or(Error::IncompatibleVersion { got: version })?;
        let name = r
            .name
            .ok_or_else(|| Error::InvalidConfig("`name` (the network name) is missing".into()))?;
        if !valid_name(&name) {
            return Err(Error::InvalidConfig(format!(
                "network name {name:?} must match ^[a-zA-Z0-9][a-zA-Z0-9_.-]*$"
            )));
        }
        let plugin_type = r.plugin_type.ok_or_else(|| {
            Error::InvalidConfig(
                "`type` (the plugin's name, e.g. \"sixfold-cni\") is missing".into(),
            )
        })?;
        if let Some(v) = r.prev_result.as_ref().and_then(|p| p.get("cniVersion")) {
            let ok = v.as_str().and_then(CniVersion::parse).is_some();
            if !ok {
                return Err(Error::IncompatibleVersion {
                    got: format!("{v} (prevResult.cniVersion)"),
                });
            }
        }
        let prev_result = match &r.prev_result {
            Some(v) => Some(
                CniResult::from_json(v)
                    .map_err(|e| Error::InvalidConfig(format!("prevResult: {e}")))?,
            ),
            None => None,
        };
        Ok(NetConf {
            cni_version,
            name,
            plugin_type,
            prev_result,
            prev_result_raw: r.prev_result,
            valid_attachments: r.valid_attachments,
            raw,
        })
    }

    /// Deserialize the plugin-specific fields from the same JSON.
    pub fn plugin<T: serde::de::DeserializeOwned>(&self) -> Result<T, Error> {
        serde_json::from_value(self.raw.clone())
            .map_err(|e| Error::InvalidConfig(format!("{} configuration: {e}", self.plugin_type)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_supported_version_parses() {
        for v in crate::version::SUPPORTED {
            let conf = NetConf::parse(
                format!(r#"{{"cniVersion":"{v}","name":"sixfold","type":"sixfold-cni"}}"#)
                    .as_bytes(),
            )
            .unwrap();
            assert_eq!(conf.cni_version, v);
            assert_eq!(conf.name, "sixfold");
        }
    }

    #[test]
    fn bad_configs_get_the_right_codes() {
        assert_eq!(NetConf::parse(b"{not json").unwrap_err().code(), 6);
        assert_eq!(NetConf::parse(br#"{"name":"x"}"#).unwrap_err().code(), 7);
        assert_eq!(
            NetConf::parse(br#"{"cniVersion":"0.2.0","name":"x","type":"t"}"#)
                .unwrap_err()
                .code(),
            1
        );
        assert_eq!(
            NetConf::parse(br#"{"cniVersion":"1.0.0","type":"t"}"#)
                .unwrap_err()
                .code(),
            7
        );
        assert_eq!(
            NetConf::parse(br#"{"cniVersion":"1.0.0","name":"bad name","type":"t"}"#)
                .unwrap_err()
                .code(),
            7
        );
        assert_eq!(NetConf::parse(b"[1]").unwrap_err().code(), 7);
    }

    #[test]
    fn an_empty_cni_version_is_an_incompatible_version() {
        let e = NetConf::parse(br#"{"cniVersion":"","name":"x","type":"t"}"#).unwrap_err();
        assert_eq!(e.code(), 1, "{e}");
        let e = NetConf::parse(
            br#"{"cniVersion":"1.0.0","name":"x","type":"t","prevResult":{"cniVersion":""}}"#,
        )
        .unwrap_err();
        assert_eq!(e.code(), 1, "{e}");
        assert!(e.to_string().contains("prevResult"), "{e}");
    }

    #[test]
    fn a_missing_type_is_invalid_config() {
        let e = NetConf::parse(br#"{"cniVersion":"1.0.0","name":"x"}"#).unwrap_err();
        assert_eq!(e.code(), 7);
        assert!(e.to_string().contains("`type`"), "{e}");
    }

    #[test]
    fn prev_result_and_attachments_are_read() {
        let conf = NetConf::parse(
            br#"{"cniVersion":"1.1.0","name":"n","type":"t","cni.dev/valid-attachments":[{"containerID":"a","ifname":"eth0"}],
                "prevResult":{"cniVersion":"1.1.0","interfaces":[{"name":"eth0","sandbox":"/x"}],
                "ips":[{"address":"2001:db8::1/128","gateway":"fe80::1","interface":0}]}}"#,
        )
        .unwrap();
        assert_eq!(conf.valid_attachments.unwrap()[0].container_id, "a");
        assert_eq!(
            conf.prev_result.unwrap().ips[0].address.to_string(),
            "2001:db8::1/128"
        );
    }
}
