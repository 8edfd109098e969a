//! A small blocking EKS client for the CLI's region-facing commands (`preflight`, `bootstrap`):
//! endpoint and credentials resolved like the AWS CLI (flags, then `AWS_*` variables, then web
//! identity — `AWS_ROLE_ARN` + `AWS_WEB_IDENTITY_TOKEN_FILE` — then the shared credentials
//! file), requests signed with SigV4 for `eks`.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use anyhow::{Context, anyhow, bail};
use sigv4::{Credentials, HttpRequest, SigningParams};

/// Where the region is and who we are, as the AWS CLI takes them.
#[derive(clap::Args, Debug, Clone)]
pub struct AwsArgs {
    /// The region's endpoint, e.g. http://127.0.0.1:4570 (default: the public EKS endpoint).
    #[arg(long, env = "AWS_ENDPOINT_URL")]
    pub endpoint_url: Option<String>,
    /// The region to sign for.
    #[arg(long, env = "AWS_REGION", default_value = "us-east-1")]
    pub region: String,
    /// Profile of the shared credentials file.
    #[arg(long, env = "AWS_PROFILE")]
    pub profile: Option<String>,
    /// The shared credentials file (default ~/.aws/credentials).
    #[arg(long, env = "AWS_SHARED_CREDENTIALS_FILE")]
    pub credentials_file: Option<PathBuf>,
}

/// An EKS error answer.
#[derive(Debug, thiserror::Error)]
#[error("{error_type} (HTTP {status}): {message}")]
pub struct ApiError {
    pub status: u16,
    pub error_type: String,
    pub message: String,
}

pub struct EksClient {
    endpoint: String,
    host: String,
    region: String,
    credentials: Credentials,
    agent: ureq::Agent,
}

pub(crate) fn credentials(a: &AwsArgs) -> anyhow::Result<Credentials> {
    if a.profile.is_none() {
        if let (Ok(id), Ok(secret)) = (
            std::env::var("AWS_ACCESS_KEY_ID"),
            std::env::var("AWS_SECRET_ACCESS_KEY"),
        ) {
            let c = Credentials::new(id, secret);
            return Ok(match std::env::var("AWS_SESSION_TOKEN") {
                Ok(t) => c.with_session_token(t),
                Err(_) => c,
            });
        }
        // Web identity (IRSA), as the SDKs: exchanged with STS at AWS_ENDPOINT_URL_STS, else
        // --endpoint-url (sixfold's region serves STS too). The instance profile is not asked
        // here: a CLI run never reaches for the metadata address unless told to.
        if a.credentials_file.is_none() && std::env::var_os("AWS_ROLE_ARN").is_some() {
            let sts = std::env::var("AWS_ENDPOINT_URL_STS")
                .ok()
                .or_else(|| a.endpoint_url.clone());
            let p = ec2_client::CredentialsProvider::chain_with(
                |n| std::env::var(n).ok(),
                &a.region,
                sts.as_deref(),
                || {
                    Err(ec2_client::ImdsError::NotFound {
                        path: "iam/security-credentials/ (not asked by the CLI)".into(),
                    })
                },
            )?;
            return Ok(p.credentials()?);
        }
    }
    let profile = a.profile.clone().unwrap_or_else(|| "default".into());
    let path = match &a.credentials_file {
        Some(p) => p.clone(),
        None => PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".aws/credentials"),
    };
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!("reading credentials from {} (give --credentials-file, or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)", path.display())
    })?;
    region_api::credentials::parse(&text, &profile).ok_or_else(|| {
        anyhow!("{} has no [{profile}] profile with aws_access_key_id and aws_secret_access_key; pick one with --profile", path.display())
    })
}

impl EksClient {
    pub fn new(a: &AwsArgs) -> anyhow::Result<Self> {
        let endpoint = a
            .endpoint_url
            .clone()
            .unwrap_or_else(|| format!("https://eks.{}.amazonaws.com", a.region))
            .trim_end_matches('/')
            .to_string();
        let host = endpoint
            .split_once("://")
            .map(|(_, rest)| rest.split('/').next().unwrap_or(rest).to_string())
            .filter(|h| !h.is_empty())
            .ok_or_else(|| {
                anyhow!(
                    "--endpoint-url {endpoint} is not a URL; write it like http://127.0.0.1:4570"
                )
            })?;
        let agent = ureq::AgentBuilder::new()
            .timeout(Duration::from_secs(30))
            .build();
        Ok(Self {
            endpoint,
            host,
            region: a.region.clone(),
            credentials: credentials(a)?,
            agent,
        })
    }

    /// `GET path` (a path of EKS's rest-json API); the parsed JSON answer.
    pub fn get(&self, path: &str) -> anyhow::Result<serde_json::Value> {
        self.call("GET", path, b"")
    }

    /// `POST path` with a JSON body; the parsed JSON answer.
    pub fn post(&self, path: &str, body: &serde_json::Value) -> anyhow::Result<serde_json::Value> {
        self.call("POST", path, body.to_string().as_bytes())
    }

    fn call(&self, method: &str, path: &str, body: &[u8]) -> anyhow::Result<serde_json::Value> {
        let mut headers = vec![("host".to_string(), self.host.clone())];
        if !body.is_empty() {
            headers.push(("content-type".to_string(), "application/json".to_string()));
        }
        let req = HttpRequest {
            method,
            path,
            query: "",
            headers: &headers,
            body,
        };
        let params = SigningParams {
            region: &self.region,
            service: "eks",
            time: SystemTime::now(),
            content_sha256_header: false,
        };
        let signed =
            sigv4::sign(&req, &self.credentials, &params).context("signing the request")?;
        let mut r = self
            .agent
            .request(method, &format!("{}{path}", self.endpoint));
        for (k, v) in &signed {
            r = r.set(k, v);
        }
        if !body.is_empty() {
            r = r.set("content-type", "application/json");
        }
        let sent = if body.is_empty() {
            r.call()
        } else {
            r.send_bytes(body)
        };
        match sent {
            Ok(resp) => {
                let text = resp.into_string().context("reading the region's answer")?;
                serde_json::from_str(&text).context("the region's answer is not JSON")
            }
            Err(ureq::Error::Status(status, resp)) => {
                let error_type = resp
                    .header("x-amzn-ErrorType")
                    .unwrap_or("UnknownError")
                    .to_string();
                let body: serde_json::Value = resp
                    .into_string()
                    .ok()
                    .and_then(|t| serde_json::from_str(&t).ok())
                    .unwrap_or_default();
                let message = body
                    .get("message")
                    .and_then(|m| m.as_str())
                    .unwrap_or("")
                    .to_string();
                Err(ApiError {
                    status,
                    error_type,
                    message,
                }
                .into())
            }
            Err(e) => bail!(
                "cannot reach the region at {}: {e}; is `sixfold serve` running there?",
                self.endpoint
            ),
        }
    }

    /// DescribeCluster: the `cluster` object.
    pub fn describe_cluster(&self, name: &str) -> anyhow::Result<serde_json::Value> {
        let path = format!("/clusters/{}", sigv4::uri_encode(name.as_bytes(), false));
        let mut v = self
            .get(&path)
            .with_context(|| format!("describing cluster {name}"))?;
        Ok(v["cluster"].take())
    }
}
