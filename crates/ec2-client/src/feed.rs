//! A blocking client of the region's change feed (`/sixfold/v1/...`, SigV4 signing name
//! `sixfold`, see docs/region.md): the current revision, a snapshot of every row, and a watch
//! that yields each change committed after a revision, in order, as it happens.
//!
//! The usual follower: take a [`FeedClient::snapshot`], then [`FeedClient::watch`] from its
//! revision; on [`FeedError::Compacted`] (fell too far behind) take a new snapshot.

use std::io::{BufRead, BufReader, Read};
use std::time::{Duration, SystemTime};

use sigv4::{Credentials, HttpRequest, SigningParams};

/// The SigV4 signing name of the feed.
pub const SIGNING_NAME: &str = "sixfold";

/// Why a feed call failed.
#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    /// The region's change log no longer reaches back to `requested`: re-list with a snapshot.
    #[error(
        "revision {requested} has been compacted (the log starts after {compacted}); take a new snapshot and watch from its revision"
    )]
    Compacted { requested: u64, compacted: u64 },
    /// The region answered with an error (`kind` is its `x-amzn-ErrorType`).
    #[error("the region refused {path}: {kind}: {message} (HTTP {status})")]
    Api {
        path: String,
        status: u16,
        kind: String,
        message: String,
    },
    /// The region could not be reached, or the stream broke.
    #[error("cannot reach the region at {url}: {message}; is `sixfold serve` running there?")]
    Transport { url: String, message: String },
    /// A line of the answer is not what the feed sends.
    #[error("the region sent something that is not a feed answer ({0})")]
    Decode(String),
    #[error("cannot sign the request: {0}")]
    Sign(#[from] sigv4::SignError),
    #[error("{url} is not an endpoint URL like http://127.0.0.1:4570")]
    InvalidEndpoint { url: String },
}

/// Whether a row was written or deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Put,
    Delete,
}

/// One line of a watch.
#[derive(Debug, Clone, PartialEq)]
pub enum FeedEvent {
    /// A row changed in the commit numbered `revision`.
    Change {
        revision: u64,
        table: String,
        key: String,
        op: Op,
        /// The row's new JSON (`None` for a delete).
        value: Option<serde_json::Value>,
    },
    /// Nothing happened; the watch is at `revision` (resume from it after a reconnect).
    Heartbeat { revision: u64 },
}

impl FeedEvent {
    /// The revision the event is at.
    pub fn revision(&self) -> u64 {
        match self {
            FeedEvent::Change { revision, .. } | FeedEvent::Heartbeat { revision } => *revision,
        }
    }
}

/// Every row of the region at one revision.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub revision: u64,
    /// `(table, key, value)`.
    pub rows: Vec<(String, String, serde_json::Value)>,
}

/// A client of one region's feed.
#[derive(Clone, Debug)]
pub struct FeedClient {
    agent: ureq::Agent,
    base: String,
    host: String,
    region: String,
    credentials: Credentials,
}

impl FeedClient {
    /// A client for `region` at `endpoint` (a base URL such as `http://127.0.0.1:4570`).
    pub fn new(region: &str, endpoint: &str, credentials: Credentials) -> Result<Self, FeedError> {
        let invalid = || FeedError::InvalidEndpoint {
            url: endpoint.to_owned(),
        };
        let rest = endpoint.strip_prefix("http://").ok_or_else(invalid)?;
        let host = rest.trim_end_matches('/');
        if host.is_empty() || host.contains(['/', '?', '#', '@']) {
            return Err(invalid());
        }
        Ok(FeedClient {
            agent: ureq::AgentBuilder::new()
                .timeout_connect(Duration::from_secs(3))
                .build(),
            base: format!("http://{host}"),
            host: host.to_owned(),
            region: region.to_owned(),
            credentials,
        })
    }

    /// A signed GET; `timeout` bounds the whole call, or, for a watch (`None`), each read
    /// (`read_timeout`).
    fn get(
        &self,
        path: &str,
        query: &str,
        timeout: Option<Duration>,
        read_timeout: Duration,
    ) -> Result<ureq::Response, FeedError> {
        let headers = vec![("Host".to_owned(), self.host.clone())];
        let req = HttpRequest {
            method: "GET",
            path,
            query,
            headers: &headers,
            body: b"",
        };
        let signed = sigv4::sign(
            &req,
            &self.credentials,
            &SigningParams {
                region: &self.region,
                service: SIGNING_NAME,
                time: SystemTime::now(),
                content_sha256_header: false,
            },
        )?;
        let url = if query.is_empty() {
            format!("{}{path}", self.base)
        } else {
            format!("{}{path}?{query}", self.base)
        };
        let mut r = match timeout {
            Some(t) => self.agent.get(&url).timeout(t),
            // A watch lives long: bound each read instead of the whole answer.
            None => ureq::AgentBuilder::new()
                .timeout_connect(Duration::from_secs(3))
                .timeout_read(read_timeout)
                .build()
                .get(&url),
        };
        for (k, v) in headers.iter().chain(&signed) {
            r = r.set(k, v);
        }
        match r.call() {
            Ok(resp) => Ok(resp),
            Err(ureq::Error::Status(status, resp)) => {
                let kind = resp.header("x-amzn-ErrorType").unwrap_or("").to_owned();
                let body: serde_json::Value = resp
                    .into_string()
                    .ok()
                    .and_then(|t| serde_json::from_str(&t).ok())
                    .unwrap_or_default();
                if kind == "Compacted" {
                    return Err(FeedError::Compacted {
                        requested: body["requestedRevision"].as_u64().unwrap_or(0),
                        compacted: body["compactedRevision"].as_u64().unwrap_or(0),
                    });
                }
                Err(FeedError::Api {
                    path: path.to_owned(),
                    status,
                    kind,
                    message: body["message"].as_str().unwrap_or("").to_owned(),
                })
            }
            Err(e) => Err(FeedError::Transport {
                url,
                message: e.to_string(),
            }),
        }
    }

    fn get_json(&self, path: &str) -> Result<serde_json::Value, FeedError> {
        let t = Duration::from_secs(10);
        let resp = self.get(path, "", Some(t), t)?;
        let text = resp.into_string().map_err(|e| FeedError::Transport {
            url: format!("{}{path}", self.base),
            message: e.to_string(),
        })?;
        serde_json::from_str(&text).map_err(|e| FeedError::Decode(e.to_string()))
    }

    /// The region's latest revision (every write acknowledged before this call is included).
    pub fn revision(&self) -> Result<u64, FeedError> {
        let v = self.get_json("/sixfold/v1/revision")?;
        v["revision"]
            .as_u64()
            .ok_or_else(|| FeedError::Decode(v.to_string()))
    }

    /// Fresh temporary credentials for the role in the IAM instance profile of `instance_id`
    /// (`GET /sixfold/v1/instance-credentials/{instance_id}`): the JSON document the instance
    /// metadata service serves at `iam/security-credentials/<role>` (`Code`, `LastUpdated`,
    /// `Type`, `AccessKeyId`, `SecretAccessKey`, `Token`, `Expiration`) plus `RoleName`. An
    /// instance without a profile is [`FeedError::Api`] with status 404.
    pub fn instance_credentials(&self, instance_id: &str) -> Result<serde_json::Value, FeedError> {
        let ok = instance_id.len() <= 32
            && instance_id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if !ok {
            return Err(FeedError::Api {
                path: "/sixfold/v1/instance-credentials/".into(),
                status: 400,
                kind: "InvalidParameterException".into(),
                message: format!("{instance_id:?} is not an instance id"),
            });
        }
        self.get_json(&format!("/sixfold/v1/instance-credentials/{instance_id}"))
    }

    /// Every row of the region and the revision they are at.
    pub fn snapshot(&self) -> Result<Snapshot, FeedError> {
        let v = self.get_json("/sixfold/v1/snapshot")?;
        let revision = v["revision"]
            .as_u64()
            .ok_or_else(|| FeedError::Decode("snapshot without revision".into()))?;
        let rows = v["rows"]
            .as_array()
            .ok_or_else(|| FeedError::Decode("snapshot without rows".into()))?
            .iter()
            .map(|r| {
                (
                    r["table"].as_str().unwrap_or("").to_owned(),
                    r["key"].as_str().unwrap_or("").to_owned(),
                    r["value"].clone(),
                )
            })
            .collect();
        Ok(Snapshot { revision, rows })
    }

    /// Follow every change committed after `since`, with a heartbeat every `heartbeat` (1 to
    /// 60 s) while nothing happens. The iterator ends with an error when the stream breaks (a
    /// silence of three heartbeats counts as broken); resume from the last revision seen.
    pub fn watch(&self, since: u64, heartbeat: Duration) -> Result<Watch, FeedError> {
        let secs = heartbeat.as_secs().clamp(1, 60);
        let resp = self.get(
            "/sixfold/v1/watch",
            &format!("heartbeat={secs}&since={since}"),
            None,
            Duration::from_secs(3 * secs + 5),
        )?;
        Ok(Watch {
            lines: BufReader::new(resp.into_reader()),
            done: false,
        })
    }
}

/// A running watch: an iterator of [`FeedEvent`]s.
pub struct Watch {
    lines: BufReader<Box<dyn Read + Send + Sync + 'static>>,
    done: bool,
}

impl std::fmt::Debug for Watch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watch").field("done", &self.done).finish()
    }
}

fn parse_line(line: &str) -> Result<FeedEvent, FeedError> {
    let v: serde_json::Value =
        serde_json::from_str(line).map_err(|e| FeedError::Decode(format!("{e}: {line}")))?;
    let revision = v["revision"]
        .as_u64()
        .ok_or_else(|| FeedError::Decode(line.to_owned()))?;
    if let Some(kind) = v["error"].as_str() {
        if kind == "Compacted" {
            return Err(FeedError::Compacted {
                requested: revision,
                compacted: revision,
            });
        }
        return Err(FeedError::Api {
            path: "/sixfold/v1/watch".into(),
            status: 200,
            kind: kind.to_owned(),
            message: v["message"].as_str().unwrap_or("").to_owned(),
        });
    }
    if v["heartbeat"].as_bool() == Some(true) {
        return Ok(FeedEvent::Heartbeat { revision });
    }
    let s = |k: &str| {
        v[k].as_str()
            .map(str::to_owned)
            .ok_or_else(|| FeedError::Decode(format!("no {k} in {line}")))
    };
    let op = match s("op")?.as_str() {
        "put" => Op::Put,
        "delete" => Op::Delete,
        other => return Err(FeedError::Decode(format!("unknown op {other}"))),
    };
    Ok(FeedEvent::Change {
        revision,
        table: s("table")?,
        key: s("key")?,
        op,
        value: v.get("value").cloned(),
    })
}

impl Iterator for Watch {
    type Item = Result<FeedEvent, FeedError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let mut line = String::new();
        let r = match self.lines.read_line(&mut line) {
            Ok(0) => Err(FeedError::Transport {
                url: "/sixfold/v1/watch".into(),
                message: "the region closed the watch".into(),
            }),
            Ok(_) => parse_line(line.trim_end()),
            Err(e) => Err(FeedError::Transport {
                url: "/sixfold/v1/watch".into(),
                message: e.to_string(),
            }),
        };
        if r.is_err() {
            self.done = true;
        }
        Some(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_parse_into_events() {
        let put =
            parse_line(r#"{"revision":3,"table":"vpcs","key":"vpc-1","op":"put","value":{"a":1}}"#)
                .unwrap();
        assert_eq!(
            put,
            FeedEvent::Change {
                revision: 3,
                table: "vpcs".into(),
                key: "vpc-1".into(),
                op: Op::Put,
                value: Some(serde_json::json!({"a":1}))
            }
        );
        let hb = parse_line(r#"{"heartbeat":true,"revision":7}"#).unwrap();
        assert_eq!(hb, FeedEvent::Heartbeat { revision: 7 });
        assert!(matches!(
            parse_line(r#"{"error":"Compacted","revision":2,"message":"m"}"#),
            Err(FeedError::Compacted { .. })
        ));
        assert!(parse_line("nope").is_err());
    }
}
