//! CNI results: one typed model, shaped into each version's JSON on output and read from any
//! supported version's JSON (a `prevResult`).
//!
//! Differences handled: before 1.0.0 each `ips[]` entry carries `"version": "4"|"6"`;
//! from 1.1.0 on an interface may carry `mtu`.
use std::net::IpAddr;

use ipnet::IpNet;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::version::CniVersion;

/// An interface the plugin created (or found).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Interface {
    pub name: String,
    #[serde(default)]
    pub mac: Option<String>,
    /// Only shown in 1.1.0 results.
    #[serde(default)]
    pub mtu: Option<u32>,
    /// The namespace path for interfaces inside the container.
    #[serde(default)]
    pub sandbox: Option<String>,
}

/// An address assigned to an interface.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct IpConfig {
    pub address: IpNet,
    #[serde(default)]
    pub gateway: Option<IpAddr>,
    /// Index into `interfaces`.
    #[serde(default)]
    pub interface: Option<usize>,
}

/// A route the container got.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RouteEntry {
    pub dst: IpNet,
    #[serde(default)]
    pub gw: Option<IpAddr>,
}

/// A CNI result, version-independent.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
pub struct CniResult {
    #[serde(default)]
    pub interfaces: Vec<Interface>,
    #[serde(default)]
    pub ips: Vec<IpConfig>,
    #[serde(default)]
    pub routes: Vec<RouteEntry>,
    /// Passed through as is.
    #[serde(default)]
    pub dns: Option<Value>,
}

/// Why a result could not be read.
#[derive(Debug, thiserror::Error)]
#[error("not a CNI result: {0}")]
pub struct ResultError(#[from] serde_json::Error);

impl CniResult {
    /// Read a result of any supported version (`ips[].version` is ignored: the address says it).
    pub fn from_json(v: &Value) -> Result<CniResult, ResultError> {
        Ok(serde_json::from_value(v.clone())?)
    }

    /// Shape this result for `version`.
    pub fn to_json(&self, version: CniVersion) -> Value {
        let interfaces: Vec<Value> = self
            .interfaces
            .iter()
            .map(|i| interface_json(i, version))
            .collect();
        let ips: Vec<Value> = self
            .ips
            .iter()
            .map(|ip| {
                let mut m = Map::new();
                if version.ips_have_version() {
                    m.insert(
                        "version".into(),
                        json!(if ip.address.addr().is_ipv4() {
                            "4"
                        } else {
                            "6"
                        }),
                    );
                }
                m.insert("address".into(), json!(ip.address.to_string()));
                if let Some(gw) = ip.gateway {
                    m.insert("gateway".into(), json!(gw.to_string()));
                }
                if let Some(i) = ip.interface {
                    m.insert("interface".into(), json!(i));
                }
                Value::Object(m)
            })
            .collect();
        let routes: Vec<Value> = self
            .routes
            .iter()
            .map(|r| {
                let mut m = Map::new();
                m.insert("dst".into(), json!(r.dst.to_string()));
                if let Some(gw) = r.gw {
                    m.insert("gw".into(), json!(gw.to_string()));
                }
                Value::Object(m)
            })
            .collect();
        let mut out = Map::new();
        out.insert("cniVersion".into(), json!(version.as_str()));
        out.insert("interfaces".into(), Value::Array(interfaces));
        out.insert("ips".into(), Value::Array(ips));
        out.insert("routes".into(), Value::Array(routes));
        out.insert("dns".into(), self.dns.clone().unwrap_or_else(|| json!({})));
        Value::Object(out)
    }
}

/// One interface entry shaped for `version`.
pub fn interface_json(i: &Interface, version: CniVersion) -> Value {
    let mut m = Map::new();
    m.insert("name".into(), json!(i.name));
    if let Some(mac) = &i.mac {
        m.insert("mac".into(), json!(mac));
    }
    if version >= CniVersion::V1_1_0
        && let Some(mtu) = i.mtu
    {
        m.insert("mtu".into(), json!(mtu));
    }
    if let Some(sb) = &i.sandbox {
        m.insert("sandbox".into(), json!(sb));
    }
    Value::Object(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> CniResult {
        CniResult {
            interfaces: vec![
                Interface {
                    name: "eni0123456789a".into(),
                    mac: Some("02:00:00:00:00:01".into()),
                    mtu: Some(9001),
                    sandbox: None,
                },
                Interface {
                    name: "eth0".into(),
                    mac: Some("02:00:00:00:00:02".into()),
                    mtu: Some(9001),
                    sandbox: Some("/run/netns/p".into()),
                },
            ],
            ips: vec![IpConfig {
                address: "2001:db8::5/128".parse().unwrap(),
                gateway: Some("fe80::1".parse().unwrap()),
                interface: Some(1),
            }],
            routes: vec![RouteEntry {
                dst: "::/0".parse().unwrap(),
                gw: None,
            }],
            dns: None,
        }
    }

    #[test]
    fn old_versions_carry_ip_version() {
        for v in [CniVersion::V0_3_0, CniVersion::V0_3_1, CniVersion::V0_4_0] {
            let j = sample().to_json(v);
            assert_eq!(j["cniVersion"], v.as_str());
            assert_eq!(j["ips"][0]["version"], "6");
            assert!(j["interfaces"][0].get("mtu").is_none());
        }
    }

    #[test]
    fn new_versions_drop_ip_version_and_1_1_shows_mtu() {
        let j = sample().to_json(CniVersion::V1_0_0);
        assert!(j["ips"][0].get("version").is_none());
        assert!(j["interfaces"][1].get("mtu").is_none());
        let j = sample().to_json(CniVersion::V1_1_0);
        assert_eq!(j["interfaces"][1]["mtu"], 9001);
        assert_eq!(j["ips"][0]["address"], "2001:db8::5/128");
        assert_eq!(j["ips"][0]["gateway"], "fe80::1");
        assert_eq!(j["ips"][0]["interface"], 1);
        assert_eq!(j["routes"][0]["dst"], "::/0");
        assert_eq!(j["interfaces"][1]["sandbox"], "/run/netns/p");
    }

    #[test]
    fn results_round_trip_through_every_version() {
        for v in crate::version::SUPPORTED {
            let back = CniResult::from_json(&sample().to_json(v)).unwrap();
            assert_eq!(back.ips, sample().ips);
            assert_eq!(back.routes, sample().routes);
        }
    }
}
