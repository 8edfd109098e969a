//! The AWS credential chain, in the SDKs' order, with refresh of temporary credentials:
//!
//! 1. the environment (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`);
//! 2. web identity (IRSA): `AWS_ROLE_ARN` + `AWS_WEB_IDENTITY_TOKEN_FILE`, the token exchanged
//!    with STS `AssumeRoleWithWebIdentity` (unsigned; the token is the credential), re-read from
//!    the file at every exchange (the kubelet rotates it);
//! 3. the shared credentials file (`AWS_SHARED_CREDENTIALS_FILE` or `~/.aws/credentials`,
//!    profile `AWS_PROFILE` or `default`), when the file exists;
//! 4. the instance profile's role through IMDSv2 (`iam/security-credentials/<role>`), unless
//!    `AWS_EC2_METADATA_DISABLED=true`.
//!
//! A [`CredentialsProvider`] caches what its source gave and fetches again
//! [`DEFAULT_REFRESH_BEFORE`] before the expiration (temporary credentials only); if that
//! refresh fails while the cached ones are still valid, they are used until they expire.
//! Clients ([`crate::Ec2Client`]) ask the provider before every signed attempt, so a refresh is
//! picked up without rebuilding the client; the session token goes out as
//! `X-Amz-Security-Token`.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use sigv4::Credentials;

use crate::credentials::{self, CredentialsError};
use crate::imds::{ImdsClient, parse_iso8601};
use crate::xml;

/// Temporary credentials are fetched again this long before they expire.
pub const DEFAULT_REFRESH_BEFORE: Duration = Duration::from_secs(300);
/// The STS API version.
pub const STS_VERSION: &str = "2011-06-15";
/// Largest STS answer read.
const MAX_STS_BYTES: u64 = 64 * 1024;
/// Largest web identity token file read.
const MAX_TOKEN_BYTES: u64 = 64 * 1024;
/// Tries of one STS exchange (connection failures and 5xx are retried).
const STS_ATTEMPTS: u32 = 3;

/// Credentials with their expiry (`None`: long-term).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expiring {
    /// Key, secret and (temporary credentials) session token.
    pub credentials: Credentials,
    /// When they stop working.
    pub expiration: Option<SystemTime>,
}

/// IRSA: a role assumed with a projected service-account token.
#[derive(Debug)]
pub struct WebIdentity {
    /// `AWS_ROLE_ARN`.
    pub role_arn: String,
    /// `AWS_WEB_IDENTITY_TOKEN_FILE`.
    pub token_file: PathBuf,
    /// `AWS_ROLE_SESSION_NAME` (default `sixfold-<unix seconds>`).
    pub session_name: String,
    /// The STS endpoint URL requests are posted to.
    pub sts_url: String,
    /// `DurationSeconds` asked for (`None`: the role's default, one hour).
    pub duration_seconds: Option<u32>,
    agent: ureq::Agent,
}

impl WebIdentity {
    /// A web identity source for `role_arn` with the token in `token_file`, exchanged at
    /// `sts_url` (e.g. `https://sts.us-east-1.amazonaws.com/` or the region's endpoint).
    pub fn new(
        role_arn: impl Into<String>,
        token_file: impl Into<PathBuf>,
        session_name: impl Into<String>,
        sts_url: impl Into<String>,
    ) -> Self {
        WebIdentity {
            role_arn: role_arn.into(),
            token_file: token_file.into(),
            session_name: session_name.into(),
            sts_url: sts_url.into(),
            duration_seconds: None,
            agent: ureq::AgentBuilder::new()
                .timeout_connect(Duration::from_secs(3))
                .timeout(Duration::from_secs(5))
                .build(),
        }
    }

    /// Asks STS for sessions of `secs` seconds.
    pub fn with_duration_seconds(mut self, secs: u32) -> Self {
        self.duration_seconds = Some(secs);
        self
    }

    /// One `AssumeRoleWithWebIdentity` exchange.
    pub fn assume(&self) -> Result<Expiring, CredentialsError> {
        let mut token = String::new();
        std::fs::File::open(&self.token_file)
            .and_then(|f| f.take(MAX_TOKEN_BYTES).read_to_string(&mut token))
            .map_err(|source| CredentialsError::TokenFile {
                path: self.token_file.clone(),
                source,
            })?;
        let token = token.trim();
        let mut form = form_urlencoded::Serializer::new(String::new());
        form.append_pair("Action", "AssumeRoleWithWebIdentity")
            .append_pair("Version", STS_VERSION)
            .append_pair("RoleArn", &self.role_arn)
            .append_pair("RoleSessionName", &self.session_name)
            .append_pair("WebIdentityToken", token);
        if let Some(d) = self.duration_seconds {
            form.append_pair("DurationSeconds", &d.to_string());
        }
        let body = form.finish();
        let fail = |detail: String| CredentialsError::WebIdentity {
            role_arn: self.role_arn.clone(),
            sts_url: self.sts_url.clone(),
            detail,
        };
        let mut last = String::new();
        for attempt in 0..STS_ATTEMPTS {
            if attempt > 0 {
                std::thread::sleep(Duration::from_millis(250 << attempt));
            }
            let resp = match self
                .agent
                .post(&self.sts_url)
                .set(
                    "Content-Type",
                    "application/x-www-form-urlencoded; charset=utf-8",
                )
                .send_string(&body)
            {
                Ok(r) | Err(ureq::Error::Status(_, r)) => r,
                Err(ureq::Error::Transport(t)) => {
                    last = format!("cannot reach STS: {t}");
                    continue;
                }
            };
            let status = resp.status();
            let mut text = String::new();
            if let Err(e) = resp
                .into_reader()
                .take(MAX_STS_BYTES)
                .read_to_string(&mut text)
            {
                last = format!("reading the STS answer: {e}");
                continue;
            }
            if status >= 500 {
                last = format!("STS answered HTTP {status}");
                continue;
            }
            return parse_assume_role(status, &text).map_err(fail);
        }
        Err(fail(format!("{last} (after {STS_ATTEMPTS} tries)")))
    }
}

/// Reads an `AssumeRoleWithWebIdentity` answer: the credentials, or the STS error as
/// `Code: Message`.
pub fn parse_assume_role(status: u16, text: &str) -> Result<Expiring, String> {
    let root = xml::parse(text).map_err(|e| {
        format!(
            "HTTP {status}, not an STS answer ({e}): {:?}",
            text.chars().take(200).collect::<String>()
        )
    })?;
    if let Some(err) = root.child("Error") {
        return Err(format!(
            "STS refused with {}: {}",
            err.child_text("Code").unwrap_or("an unnamed error"),
            err.child_text("Message").unwrap_or_default()
        ));
    }
    let creds = root
        .child("AssumeRoleWithWebIdentityResult")
        .and_then(|r| r.child("Credentials"))
        .ok_or_else(|| format!("HTTP {status}, no <Credentials> in the STS answer"))?;
    let field = |n: &str| {
        creds
            .child_text(n)
            .map(str::to_owned)
            .ok_or_else(|| format!("the STS answer has no {n}"))
    };
    let expiration = field("Expiration")?;
    let expiration = parse_iso8601(&expiration)
        .ok_or_else(|| format!("Expiration {expiration:?} is not ISO 8601"))?;
    Ok(Expiring {
        credentials: Credentials::new(field("AccessKeyId")?, field("SecretAccessKey")?)
            .with_session_token(field("SessionToken")?),
        expiration: Some(expiration),
    })
}

/// Where a provider's credentials come from.
#[derive(Debug)]
pub enum Source {
    /// Given once (flags, the environment, a profile): never refreshed.
    Static {
        /// The credentials.
        credentials: Credentials,
        /// Where they came from, for logs.
        origin: String,
    },
    /// IRSA.
    WebIdentity(WebIdentity),
    /// The instance profile through IMDS.
    Imds(ImdsClient),
}

/// A source plus a cache of what it gave, refreshed before it expires. Share it with `Arc`.
#[derive(Debug)]
pub struct CredentialsProvider {
    source: Source,
    cache: Mutex<Option<Expiring>>,
    refresh_before: Duration,
    /// The role (ARN for web identity, name for an instance profile) of the last fetch.
    role: Mutex<Option<String>>,
}

impl CredentialsProvider {
    /// A provider over `source`, refreshing [`DEFAULT_REFRESH_BEFORE`] before expiry.
    pub fn new(source: Source) -> Self {
        let role = match &source {
            Source::WebIdentity(w) => Some(w.role_arn.clone()),
            _ => None,
        };
        CredentialsProvider {
            source,
            cache: Mutex::new(None),
            refresh_before: DEFAULT_REFRESH_BEFORE,
            role: Mutex::new(role),
        }
    }

    /// Fixed credentials.
    pub fn fixed(credentials: Credentials) -> Self {
        Self::new(Source::Static {
            credentials,
            origin: "given credentials".into(),
        })
    }

    /// Sets how long before expiry temporary credentials are fetched again.
    pub fn with_refresh_before(mut self, d: Duration) -> Self {
        self.refresh_before = d;
        self
    }

    /// Where the credentials come from, for logs and status (never the secret).
    pub fn describe(&self) -> String {
        match &self.source {
            Source::Static { origin, .. } => origin.clone(),
            Source::WebIdentity(w) => format!(
                "web identity (IRSA): role {} with the token in {}",
                w.role_arn,
                w.token_file.display()
            ),
            Source::Imds(c) => match self.role() {
                Some(r) => format!("the instance profile role {r} (IMDS {})", c.endpoint()),
                None => format!("the instance profile (IMDS {})", c.endpoint()),
            },
        }
    }

    /// The role these credentials act as, when known (web identity or instance profile).
    pub fn role(&self) -> Option<String> {
        self.role.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The credentials to sign with now: cached, or fetched when there are none or they are
    /// within the refresh window of their expiration.
    pub fn credentials(&self) -> Result<Credentials, CredentialsError> {
        self.credentials_at(SystemTime::now())
    }

    fn credentials_at(&self, now: SystemTime) -> Result<Credentials, CredentialsError> {
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        let fresh = |e: &Expiring| match e.expiration {
            None => true,
            Some(exp) => now + self.refresh_before < exp,
        };
        if let Some(c) = cache.as_ref().filter(|c| fresh(c)) {
            return Ok(c.credentials.clone());
        }
        match self.fetch() {
            Ok(got) => {
                let creds = got.credentials.clone();
                *cache = Some(got);
                Ok(creds)
            }
            Err(e) => match cache.as_ref() {
                // Still valid: keep using them until they expire, and try again next time.
                Some(c) if c.expiration.is_some_and(|exp| now < exp) => {
                    tracing::warn!(error = %e, "refreshing credentials failed; using the cached ones until they expire");
                    Ok(c.credentials.clone())
                }
                _ => Err(e),
            },
        }
    }

    fn fetch(&self) -> Result<Expiring, CredentialsError> {
        match &self.source {
            Source::Static { credentials, .. } => Ok(Expiring {
                credentials: credentials.clone(),
                expiration: None,
            }),
            Source::WebIdentity(w) => {
                let got = w.assume()?;
                tracing::info!(role = %w.role_arn, expires = ?got.expiration, "assumed the role with the web identity token");
                Ok(got)
            }
            Source::Imds(c) => {
                let got = c.role_credentials()?;
                *self.role.lock().unwrap_or_else(|p| p.into_inner()) = Some(got.role.clone());
                Ok(Expiring {
                    credentials: got.credentials,
                    expiration: Some(got.expiration),
                })
            }
        }
    }

    /// The chain over the process environment (see the module docs). `sts_url` overrides the
    /// STS endpoint (else `AWS_ENDPOINT_URL_STS`, `AWS_ENDPOINT_URL`, then
    /// `https://sts.<region>.amazonaws.com/`).
    pub fn default_chain(region: &str, sts_url: Option<&str>) -> Result<Self, CredentialsError> {
        Self::chain_with(
            |n| std::env::var(n).ok(),
            region,
            sts_url,
            ImdsClient::from_env,
        )
    }

    /// [`Self::default_chain`] over the variables `var` gives and the IMDS client `imds`
    /// makes (tested without touching the process environment).
    pub fn chain_with(
        var: impl Fn(&str) -> Option<String>,
        region: &str,
        sts_url: Option<&str>,
        imds: impl FnOnce() -> Result<ImdsClient, crate::imds::ImdsError>,
    ) -> Result<Self, CredentialsError> {
        let non_empty = |n: &str| var(n).filter(|v| !v.is_empty());
        if let Some(c) = credentials::from_env_with(&var)? {
            return Ok(Self::new(Source::Static {
                credentials: c,
                origin: "the environment (AWS_ACCESS_KEY_ID)".into(),
            }));
        }
        match (
            non_empty("AWS_ROLE_ARN"),
            non_empty("AWS_WEB_IDENTITY_TOKEN_FILE"),
        ) {
            (Some(role), Some(file)) => {
                let sts = sts_url
                    .map(str::to_owned)
                    .or_else(|| non_empty("AWS_ENDPOINT_URL_STS"))
                    .or_else(|| non_empty("AWS_ENDPOINT_URL"))
                    .unwrap_or_else(|| format!("https://sts.{region}.amazonaws.com/"));
                let session = non_empty("AWS_ROLE_SESSION_NAME").unwrap_or_else(|| {
                    let secs = SystemTime::now()
                        .duration_since(SystemTime::UNIX_EPOCH)
                        .map(|d| d.as_secs())
                        .unwrap_or(0);
                    format!("sixfold-{secs}")
                });
                return Ok(Self::new(Source::WebIdentity(WebIdentity::new(
                    role, file, session, sts,
                ))));
            }
            (Some(_), None) => {
                return Err(CredentialsError::IncompleteEnv {
                    set: "AWS_ROLE_ARN",
                    missing: "AWS_WEB_IDENTITY_TOKEN_FILE",
                });
            }
            (None, Some(_)) => {
                return Err(CredentialsError::IncompleteEnv {
                    set: "AWS_WEB_IDENTITY_TOKEN_FILE",
                    missing: "AWS_ROLE_ARN",
                });
            }
            (None, None) => {}
        }
        let path = match non_empty("AWS_SHARED_CREDENTIALS_FILE") {
            Some(p) => PathBuf::from(p),
            None => Path::new(&var("HOME").unwrap_or_default()).join(".aws/credentials"),
        };
        let profile = non_empty("AWS_PROFILE").unwrap_or_else(|| "default".into());
        match credentials::from_profile(&path, &profile) {
            Ok(c) => {
                return Ok(Self::new(Source::Static {
                    credentials: c,
                    origin: format!("profile [{profile}] of {}", path.display()),
                }));
            }
            Err(CredentialsError::Read { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        if non_empty("AWS_EC2_METADATA_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
            return Err(CredentialsError::NotFound {
                path,
                imds: "AWS_EC2_METADATA_DISABLED=true".into(),
            });
        }
        let provider =
            imds()
                .map(|c| Self::new(Source::Imds(c)))
                .map_err(|e| CredentialsError::NotFound {
                    path: path.clone(),
                    imds: e.to_string(),
                })?;
        // Fetch now: a node without an instance profile should fail at start, naming why.
        provider
            .credentials()
            .map_err(|e| CredentialsError::NotFound {
                path,
                imds: e.to_string(),
            })?;
        Ok(provider)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OK: &str = r#"<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
<AssumeRoleWithWebIdentityResult><Credentials><AccessKeyId>ASIA1</AccessKeyId>
<SecretAccessKey>s</SecretAccessKey><SessionToken>tok</SessionToken>
<Expiration>2026-11-30T21:00:00Z</Expiration></Credentials></AssumeRoleWithWebIdentityResult>
</AssumeRoleWithWebIdentityResponse>"#;

    #[test]
    fn assume_role_answers_parse() {
        let e = parse_assume_role(200, OK).unwrap();
        assert_eq!(e.credentials.access_key_id, "ASIA1");
        assert_eq!(e.credentials.session_token.as_deref(), Some("tok"));
        assert!(e.expiration.is_some());
        let err = parse_assume_role(
            400,
            "<ErrorResponse><Error><Type>Sender</Type><Code>InvalidIdentityToken</Code>\
             <Message>bad issuer</Message></Error></ErrorResponse>",
        )
        .unwrap_err();
        assert!(err.contains("InvalidIdentityToken: bad issuer"), "{err}");
        assert!(parse_assume_role(200, "nope").unwrap_err().contains("nope"));
    }

    fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |n| {
            pairs
                .iter()
                .find(|(k, _)| *k == n)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    fn no_imds() -> Result<ImdsClient, crate::imds::ImdsError> {
        ImdsClient::with_endpoint("http://unused.invalid").and_then(|_| {
            Err(crate::imds::ImdsError::NotFound {
                path: "iam/".into(),
            })
        })
    }

    #[test]
    fn the_chain_takes_the_first_source_that_is_configured() {
        let p = CredentialsProvider::chain_with(
            env(&[
                ("AWS_ACCESS_KEY_ID", "AKIA1"),
                ("AWS_SECRET_ACCESS_KEY", "s"),
                ("AWS_ROLE_ARN", "arn:aws:iam::1:role/r"),
                ("AWS_WEB_IDENTITY_TOKEN_FILE", "/t"),
            ]),
            "us-east-1",
            None,
            no_imds,
        )
        .unwrap();
        assert!(p.describe().contains("environment"), "{}", p.describe());
        let p = CredentialsProvider::chain_with(
            env(&[
                ("AWS_ROLE_ARN", "arn:aws:iam::1:role/r"),
                ("AWS_WEB_IDENTITY_TOKEN_FILE", "/t"),
                ("AWS_ENDPOINT_URL", "http://10.0.0.1:1"),
            ]),
            "us-east-1",
            None,
            no_imds,
        )
        .unwrap();
        match &p.source {
            Source::WebIdentity(w) => assert_eq!(w.sts_url, "http://10.0.0.1:1"),
            other => panic!("{other:?}"),
        }
        assert_eq!(p.role().as_deref(), Some("arn:aws:iam::1:role/r"));
        let e = CredentialsProvider::chain_with(
            env(&[("AWS_ROLE_ARN", "arn:aws:iam::1:role/r")]),
            "us-east-1",
            None,
            no_imds,
        )
        .unwrap_err();
        assert!(e.to_string().contains("AWS_WEB_IDENTITY_TOKEN_FILE"), "{e}");
    }

    #[test]
    fn nothing_configured_names_every_source_tried() {
        let e = CredentialsProvider::chain_with(
            env(&[("HOME", "/nonexistent/sixfold-home")]),
            "us-east-1",
            None,
            no_imds,
        )
        .unwrap_err();
        let msg = e.to_string();
        for part in [
            "AWS_ACCESS_KEY_ID",
            "AWS_ROLE_ARN",
            "/nonexistent/sixfold-home/.aws/credentials",
            "instance profile",
        ] {
            assert!(msg.contains(part), "{part} missing from: {msg}");
        }
    }

    #[test]
    fn expiring_credentials_are_fetched_again_inside_the_refresh_window() {
        let p = CredentialsProvider::fixed(Credentials::new("A", "s"));
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        // A cache entry that expires in 10 minutes: fresh at t0, stale 6 minutes later.
        *p.cache.lock().unwrap() = Some(Expiring {
            credentials: Credentials::new("OLD", "s").with_session_token("t"),
            expiration: Some(t0 + Duration::from_secs(600)),
        });
        assert_eq!(p.credentials_at(t0).unwrap().access_key_id, "OLD");
        assert_eq!(
            p.credentials_at(t0 + Duration::from_secs(360))
                .unwrap()
                .access_key_id,
            "A"
        );
    }
}
