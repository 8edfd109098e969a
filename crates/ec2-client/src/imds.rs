//! An IMDSv2 client: what a node learns about itself from the instance metadata service.
//!
//! Session-oriented, as AWS requires: `PUT /latest/api/token` with
//! `X-aws-ec2-metadata-token-ttl-seconds`, then every `GET /latest/meta-data/...` with
//! `X-aws-ec2-metadata-token`. Only the IPv4 endpoint `http://169.254.169.254` is used: EKS IPv6
//! clusters do not support the IMDS IPv6 endpoint (`[fd00:ec2::254]`), so asking for it
//! (`AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE=IPv6` or an IPv6 endpoint URL) is an error naming why.
//! `AWS_EC2_METADATA_SERVICE_ENDPOINT` may point at another IPv4 host (tests, proxies), as in
//! the AWS SDKs.
//!
//! Every call is bounded: 1 s to connect, 2 s per request, 64 KiB per answer, 3 tries with a
//! short backoff on connection failures and 5xx; a 401 (expired token) fetches a new token once.
//! The parsers of the answers ([`NodeMetadata::from_lookup`], [`parse_role_credentials`]) are
//! pure and tested without a server.

use std::io::Read;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use ipnet::Ipv6Net;
use sigv4::Credentials;

/// The IMDS endpoint (IPv4 link-local; the only one EKS IPv6 clusters support).
pub const IMDS_ENDPOINT: &str = "http://169.254.169.254";
/// The IMDS IPv6 endpoint, named only to refuse it.
pub const IMDS_IPV6_ENDPOINT: &str = "http://[fd00:ec2::254]";
/// Lifetime asked for a session token (6 hours, the maximum).
const TOKEN_TTL_SECS: u64 = 21_600;
/// A token is renewed this long before its TTL runs out.
const TOKEN_MARGIN: Duration = Duration::from_secs(60);
/// Largest answer read from IMDS.
pub const MAX_ANSWER_BYTES: u64 = 64 * 1024;
/// Tries per request (connection failures and 5xx are retried).
const ATTEMPTS: u32 = 3;

/// Why instance metadata could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ImdsError {
    /// The endpoint is not an `http://` IPv4 URL.
    #[error(
        "IMDS endpoint {url:?} is not usable: {reason}; use {IMDS_ENDPOINT} (the IMDS IPv6 endpoint \
         is not supported by EKS IPv6 clusters)"
    )]
    Endpoint {
        /// The URL given.
        url: String,
        /// Why.
        reason: String,
    },
    /// IMDS could not be reached (after retries).
    #[error(
        "cannot reach the instance metadata service at {url}: {detail}; on EC2 check that IMDS \
         is enabled (http-endpoint enabled, hop limit ≥ 2 for containers); off EC2 pass \
         --instance-id and the other overrides"
    )]
    Unreachable {
        /// The URL asked.
        url: String,
        /// What failed.
        detail: String,
    },
    /// IMDS has no such path.
    #[error("instance metadata has no {path} (HTTP 404){}", hint(path))]
    NotFound {
        /// The metadata path.
        path: String,
    },
    /// IMDS answered an unexpected status.
    #[error("instance metadata {path} answered HTTP {status}: {snippet:?}")]
    Status {
        /// The metadata path.
        path: String,
        /// The HTTP status.
        status: u16,
        /// The start of the body.
        snippet: String,
    },
    /// An answer that cannot be what it should be.
    #[error("instance metadata {path} answered {value:?}, which is not {expected}")]
    Invalid {
        /// The metadata path.
        path: String,
        /// The answer (start of it).
        value: String,
        /// What was expected.
        expected: &'static str,
    },
    /// An answer larger than [`MAX_ANSWER_BYTES`].
    #[error("instance metadata {path} answered more than {MAX_ANSWER_BYTES} bytes")]
    TooLarge {
        /// The metadata path.
        path: String,
    },
}

fn hint(path: &str) -> &'static str {
    if path.starts_with("iam/") {
        "; the instance has no instance profile (IAM role): attach one, or give the agent \
         credentials another way (IRSA: AWS_ROLE_ARN + AWS_WEB_IDENTITY_TOKEN_FILE)"
    } else {
        ""
    }
}

/// What the node learns about itself, from its primary network interface.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeMetadata {
    /// `instance-id`.
    pub instance_id: String,
    /// `placement/region`.
    pub region: String,
    /// `placement/availability-zone`, if served.
    pub availability_zone: Option<String>,
    /// `instance-type`.
    pub instance_type: String,
    /// `local-ipv4`: the primary private IPv4.
    pub local_ipv4: Ipv4Addr,
    /// `mac`: the primary interface's MAC.
    pub mac: String,
    /// `.../interface-id` of the primary interface.
    pub interface_id: String,
    /// `.../subnet-id`.
    pub subnet_id: String,
    /// `.../vpc-id`.
    pub vpc_id: String,
    /// `.../local-ipv4s`.
    pub local_ipv4s: Vec<Ipv4Addr>,
    /// `.../ipv6s` (empty when the interface has none).
    pub ipv6s: Vec<Ipv6Addr>,
    /// `.../subnet-ipv6-cidr-blocks`.
    pub subnet_ipv6_cidr_blocks: Vec<Ipv6Net>,
    /// `.../vpc-ipv6-cidr-blocks`.
    pub vpc_ipv6_cidr_blocks: Vec<Ipv6Net>,
}

impl NodeMetadata {
    /// Builds the node's metadata from `get(path)` (a path under `meta-data/`; `Ok(None)` for a
    /// 404). Pure: the client passes its own GET, tests pass a table.
    pub fn from_lookup(
        mut get: impl FnMut(&str) -> Result<Option<String>, ImdsError>,
    ) -> Result<Self, ImdsError> {
        let mut need = |path: &str| -> Result<String, ImdsError> {
            get(path)?
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
                .ok_or_else(|| ImdsError::NotFound {
                    path: path.to_owned(),
                })
        };
        let instance_id = need("instance-id")?;
        if !instance_id.starts_with("i-") || instance_id.len() > 64 {
            return Err(invalid(
                "instance-id",
                &instance_id,
                "an instance id (i-...)",
            ));
        }
        let region = need("placement/region")?;
        let instance_type = need("instance-type")?;
        let local_ipv4 = need("local-ipv4")?;
        let local_ipv4 = local_ipv4
            .parse()
            .map_err(|_| invalid("local-ipv4", &local_ipv4, "an IPv4 address"))?;
        let mac = need("mac")?;
        if mac.len() != 17 || !mac.bytes().all(|b| b.is_ascii_hexdigit() || b == b':') {
            return Err(invalid("mac", &mac, "a MAC address (0e:12:34:56:78:9a)"));
        }
        let base = format!("network/interfaces/macs/{mac}");
        let interface_id = need(&format!("{base}/interface-id"))?;
        let subnet_id = need(&format!("{base}/subnet-id"))?;
        let vpc_id = need(&format!("{base}/vpc-id"))?;
        let mut list = |leaf: &str| -> Result<(String, Vec<String>), ImdsError> {
            let path = format!("{base}/{leaf}");
            let values = get(&path)?
                .map(|v| {
                    v.lines()
                        .map(str::trim)
                        .filter(|l| !l.is_empty())
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default();
            Ok((path, values))
        };
        let local_ipv4s = parse_list(list("local-ipv4s")?, "an IPv4 address")?;
        let ipv6s = parse_list(list("ipv6s")?, "an IPv6 address")?;
        let subnet_ipv6_cidr_blocks =
            parse_list(list("subnet-ipv6-cidr-blocks")?, "an IPv6 CIDR block")?;
        let vpc_ipv6_cidr_blocks = parse_list(list("vpc-ipv6-cidr-blocks")?, "an IPv6 CIDR block")?;
        let availability_zone = get("placement/availability-zone")?
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty());
        Ok(NodeMetadata {
            instance_id,
            region,
            availability_zone,
            instance_type,
            local_ipv4,
            mac,
            interface_id,
            subnet_id,
            vpc_id,
            local_ipv4s,
            ipv6s,
            subnet_ipv6_cidr_blocks,
            vpc_ipv6_cidr_blocks,
        })
    }
}

/// Every line of a list answer parsed as `T`; the first that does not parse is an error.
fn parse_list<T: std::str::FromStr>(
    (path, values): (String, Vec<String>),
    expected: &'static str,
) -> Result<Vec<T>, ImdsError> {
    values
        .iter()
        .map(|v| v.parse().map_err(|_| invalid(&path, v, expected)))
        .collect()
}

fn invalid(path: &str, value: &str, expected: &'static str) -> ImdsError {
    ImdsError::Invalid {
        path: path.to_owned(),
        value: value.chars().take(100).collect(),
        expected,
    }
}

/// Role credentials as IMDS serves them, with their expiry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoleCredentials {
    /// The role name (`iam/security-credentials/<role>`).
    pub role: String,
    /// Key, secret and session token.
    pub credentials: Credentials,
    /// When they stop working.
    pub expiration: SystemTime,
}

/// Parses the JSON of `iam/security-credentials/<role>` (`Code`, `AccessKeyId`,
/// `SecretAccessKey`, `Token`, `Expiration`).
pub fn parse_role_credentials(role: &str, json: &str) -> Result<RoleCredentials, ImdsError> {
    let path = format!("iam/security-credentials/{role}");
    let v: serde_json::Value =
        serde_json::from_str(json).map_err(|_| invalid(&path, json, "a JSON object"))?;
    if let Some(code) = v["Code"].as_str().filter(|c| *c != "Success") {
        return Err(invalid(&path, code, "Code \"Success\""));
    }
    let field = |name: &'static str| {
        v[name]
            .as_str()
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .ok_or_else(|| invalid(&path, json, name))
    };
    let expiration = field("Expiration")?;
    let expiration = parse_iso8601(&expiration)
        .ok_or_else(|| invalid(&path, &expiration, "an ISO 8601 Expiration"))?;
    Ok(RoleCredentials {
        role: role.to_owned(),
        credentials: Credentials::new(field("AccessKeyId")?, field("SecretAccessKey")?)
            .with_session_token(field("Token")?),
        expiration,
    })
}

/// `2026-11-30T21:00:00Z` (optionally with fractional seconds) → the instant.
pub fn parse_iso8601(text: &str) -> Option<SystemTime> {
    let t = text.trim();
    let (main, _) = t
        .strip_suffix('Z')?
        .split_once('.')
        .unwrap_or((t.strip_suffix('Z')?, ""));
    let compact: String = main.chars().filter(|c| *c != '-' && *c != ':').collect();
    sigv4::AmzDate::parse(&format!("{compact}Z")).map(sigv4::AmzDate::to_system_time)
}

/// A blocking IMDSv2 client; cheap to share (the session token is cached behind a mutex).
#[derive(Debug)]
pub struct ImdsClient {
    agent: ureq::Agent,
    base: String,
    token: Mutex<Option<(String, Instant)>>,
}

impl ImdsClient {
    /// The client of the node's IMDS: [`IMDS_ENDPOINT`], or `AWS_EC2_METADATA_SERVICE_ENDPOINT`
    /// when set (IPv4 only); `AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE=IPv6` is refused.
    pub fn from_env() -> Result<Self, ImdsError> {
        if let Ok(mode) = std::env::var("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE")
            && mode.eq_ignore_ascii_case("ipv6")
        {
            return Err(ImdsError::Endpoint {
                url: IMDS_IPV6_ENDPOINT.to_owned(),
                reason: "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE=IPv6 asks for the IPv6 endpoint"
                    .to_owned(),
            });
        }
        match std::env::var("AWS_EC2_METADATA_SERVICE_ENDPOINT") {
            Ok(url) if !url.is_empty() => Self::with_endpoint(&url),
            _ => Self::with_endpoint(IMDS_ENDPOINT),
        }
    }

    /// A client of the IMDS at `url` (`http://<IPv4 or name>[:port]`).
    pub fn with_endpoint(url: &str) -> Result<Self, ImdsError> {
        let bad = |reason: &str| ImdsError::Endpoint {
            url: url.to_owned(),
            reason: reason.to_owned(),
        };
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| bad("it must start with http://"))?;
        let authority = rest.trim_end_matches('/');
        if authority.is_empty() || authority.contains(['/', '?', '#', '@']) {
            return Err(bad("it must be http://host[:port] with no path"));
        }
        if authority.starts_with('[') {
            return Err(bad("it is an IPv6 address"));
        }
        Ok(ImdsClient {
            agent: ureq::AgentBuilder::new()
                .timeout_connect(Duration::from_secs(1))
                .timeout(Duration::from_secs(2))
                .build(),
            base: format!("http://{authority}"),
            token: Mutex::new(None),
        })
    }

    /// The endpoint in use.
    pub fn endpoint(&self) -> &str {
        &self.base
    }

    /// The node's metadata (the primary interface's, through `mac`).
    pub fn node(&self) -> Result<NodeMetadata, ImdsError> {
        NodeMetadata::from_lookup(|p| self.get_opt(p))
    }

    /// `meta-data/<path>`; a 404 is [`ImdsError::NotFound`].
    pub fn get(&self, path: &str) -> Result<String, ImdsError> {
        self.get_opt(path)?.ok_or_else(|| ImdsError::NotFound {
            path: path.to_owned(),
        })
    }

    /// The instance profile's role name and its current credentials.
    pub fn role_credentials(&self) -> Result<RoleCredentials, ImdsError> {
        let listing = self.get("iam/security-credentials/")?;
        let role = listing
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .ok_or_else(|| ImdsError::NotFound {
                path: "iam/security-credentials/".to_owned(),
            })?
            .to_owned();
        if role.contains('/') || role.len() > 128 {
            return Err(invalid("iam/security-credentials/", &role, "a role name"));
        }
        let json = self.get(&format!("iam/security-credentials/{role}"))?;
        parse_role_credentials(&role, &json)
    }

    /// `meta-data/<path>`, `None` for a 404.
    pub fn get_opt(&self, path: &str) -> Result<Option<String>, ImdsError> {
        let url = format!("{}/latest/meta-data/{path}", self.base);
        let mut renewed = false;
        loop {
            let token = self.token()?;
            match self.send("GET", &url, ("X-aws-ec2-metadata-token", &token), path)? {
                (200, body) => return Ok(Some(body)),
                (404, _) => return Ok(None),
                (401, _) if !renewed => {
                    renewed = true;
                    *self.token.lock().unwrap_or_else(|p| p.into_inner()) = None;
                }
                (status, body) => {
                    return Err(ImdsError::Status {
                        path: path.to_owned(),
                        status,
                        snippet: body.chars().take(200).collect(),
                    });
                }
            }
        }
    }

    fn token(&self) -> Result<String, ImdsError> {
        let mut guard = self.token.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((t, until)) = guard.as_ref()
            && Instant::now() < *until
        {
            return Ok(t.clone());
        }
        let url = format!("{}/latest/api/token", self.base);
        let ttl = TOKEN_TTL_SECS.to_string();
        let (status, body) = self.send(
            "PUT",
            &url,
            ("X-aws-ec2-metadata-token-ttl-seconds", &ttl),
            "api/token",
        )?;
        let token = body.trim().to_owned();
        if status != 200 || token.is_empty() || token.len() > 4096 {
            return Err(ImdsError::Status {
                path: "/latest/api/token".to_owned(),
                status,
                snippet: body.chars().take(200).collect(),
            });
        }
        *guard = Some((
            token.clone(),
            Instant::now() + Duration::from_secs(TOKEN_TTL_SECS) - TOKEN_MARGIN,
        ));
        Ok(token)
    }

    /// One request, retried on connection failures and 5xx; answers (status, bounded body).
    fn send(
        &self,
        method: &str,
        url: &str,
        (header, value): (&str, &str),
        path: &str,
    ) -> Result<(u16, String), ImdsError> {
        let mut last = String::new();
        for attempt in 0..ATTEMPTS {
            if attempt > 0 {
                std::thread::sleep(Duration::from_millis(200 << attempt));
            }
            let resp = match self.agent.request(method, url).set(header, value).call() {
                Ok(r) => r,
                Err(ureq::Error::Status(_, r)) => r,
                Err(ureq::Error::Transport(t)) => {
                    last = t.to_string();
                    continue;
                }
            };
            let status = resp.status();
            let mut body = Vec::new();
            let read = resp
                .into_reader()
                .take(MAX_ANSWER_BYTES + 1)
                .read_to_end(&mut body);
            if let Err(e) = read {
                last = e.to_string();
                continue;
            }
            if body.len() as u64 > MAX_ANSWER_BYTES {
                return Err(ImdsError::TooLarge {
                    path: path.to_owned(),
                });
            }
            if status >= 500 {
                last = format!("HTTP {status}");
                continue;
            }
            return Ok((status, String::from_utf8_lossy(&body).into_owned()));
        }
        Err(ImdsError::Unreachable {
            url: url.to_owned(),
            detail: format!("{last} (after {ATTEMPTS} tries)"),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn table() -> BTreeMap<String, String> {
        let mac = "0e:11:22:33:44:55";
        let b = format!("network/interfaces/macs/{mac}");
        [
            ("instance-id", "i-0123456789abcdef0".to_owned()),
            ("placement/region", "us-east-1".to_owned()),
            ("placement/availability-zone", "us-east-1a".to_owned()),
            ("instance-type", "m5.large".to_owned()),
            ("local-ipv4", "10.0.1.10".to_owned()),
            ("mac", mac.to_owned()),
            (&format!("{b}/interface-id"), "eni-0abc".to_owned()),
            (&format!("{b}/subnet-id"), "subnet-1".to_owned()),
            (&format!("{b}/vpc-id"), "vpc-1".to_owned()),
            (
                &format!("{b}/local-ipv4s"),
                "10.0.1.10\n10.0.1.11".to_owned(),
            ),
            (&format!("{b}/ipv6s"), "2001:db8:0:1::10".to_owned()),
            (
                &format!("{b}/subnet-ipv6-cidr-blocks"),
                "2001:db8:0:1::/64".to_owned(),
            ),
            (
                &format!("{b}/vpc-ipv6-cidr-blocks"),
                "2001:db8::/56".to_owned(),
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }

    #[test]
    fn node_metadata_follows_the_primary_mac() {
        let t = table();
        let m = NodeMetadata::from_lookup(|p| Ok(t.get(p).cloned())).unwrap();
        assert_eq!(m.instance_id, "i-0123456789abcdef0");
        assert_eq!(m.interface_id, "eni-0abc");
        assert_eq!(m.local_ipv4s.len(), 2);
        assert_eq!(m.ipv6s, ["2001:db8:0:1::10".parse::<Ipv6Addr>().unwrap()]);
        assert_eq!(m.subnet_ipv6_cidr_blocks[0].prefix_len(), 64);
        assert_eq!(m.vpc_ipv6_cidr_blocks[0].prefix_len(), 56);
        assert_eq!(m.availability_zone.as_deref(), Some("us-east-1a"));
    }

    #[test]
    fn missing_and_malformed_values_name_the_path() {
        let mut t = table();
        t.remove("instance-type");
        let e = NodeMetadata::from_lookup(|p| Ok(t.get(p).cloned())).unwrap_err();
        assert!(
            matches!(e, ImdsError::NotFound { ref path } if path == "instance-type"),
            "{e}"
        );
        let mut t = table();
        t.insert(
            "network/interfaces/macs/0e:11:22:33:44:55/ipv6s".into(),
            "2001:db8::zz".into(),
        );
        let e = NodeMetadata::from_lookup(|p| Ok(t.get(p).cloned())).unwrap_err();
        assert!(e.to_string().contains("2001:db8::zz"), "{e}");
        assert!(e.to_string().contains("/ipv6s"), "{e}");
    }

    #[test]
    fn role_credentials_parse_with_expiry() {
        let json = r#"{"Code":"Success","LastUpdated":"2026-11-30T20:00:00Z","Type":"AWS-HMAC",
            "AccessKeyId":"ASIAEXAMPLE","SecretAccessKey":"s","Token":"t",
            "Expiration":"2026-11-30T21:00:00Z"}"#;
        let c = parse_role_credentials("node", json).unwrap();
        assert_eq!(c.credentials.session_token.as_deref(), Some("t"));
        assert_eq!(
            c.expiration,
            parse_iso8601("2026-11-30T21:00:00.000Z").unwrap()
        );
        let secs = c
            .expiration
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        assert_eq!(secs, 1_796_072_400);
        let e =
            parse_role_credentials("node", r#"{"Code":"Success","AccessKeyId":"A"}"#).unwrap_err();
        assert!(e.to_string().contains("security-credentials/node"), "{e}");
    }

    #[test]
    fn the_ipv6_endpoint_and_non_http_urls_are_refused() {
        for bad in [
            IMDS_IPV6_ENDPOINT,
            "https://169.254.169.254",
            "http://x/latest",
        ] {
            let e = ImdsClient::with_endpoint(bad).unwrap_err();
            assert!(e.to_string().contains("IPv6 endpoint"), "{e}");
        }
        assert_eq!(
            ImdsClient::with_endpoint("http://127.0.0.1:9/")
                .unwrap()
                .endpoint(),
            "http://127.0.0.1:9"
        );
    }
}
