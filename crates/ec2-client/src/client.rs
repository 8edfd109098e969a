//! The blocking EC2 Query client: form-encoded POSTs (`Action=...&Version=2016-11-15`) signed
//! with SigV4 (service `ec2`), sent with `ureq` under a timeout, retried with backoff on
//! throttling, server errors and connection failures within a fixed time budget.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use sigv4::{Credentials, HttpRequest, SigningParams};

use crate::error::{Ec2Error, from_error_reply};
use crate::model::{self, AssignedIpv6, Filter, Instance, NetworkInterface};
use crate::provider::CredentialsProvider;
use crate::xml::{self, Element};

/// The EC2 API version sixfold speaks.
pub const API_VERSION: &str = "2016-11-15";
/// The SigV4 signing name of EC2.
pub const SIGNING_NAME: &str = "ec2";
/// Largest number of pages a describe call follows before giving up.
const MAX_PAGES: usize = 100;

/// Where EC2 requests go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    /// The full URL requests are posted to, e.g. `http://127.0.0.1:8080/`.
    url: String,
    /// The `Host` header (the URL's authority), signed and sent.
    host: String,
    /// The request path (`/` unless the base URL has one).
    path: String,
}

impl Endpoint {
    /// Parses an `--endpoint-url` style base URL: `http://` or `https://`, a host with an
    /// optional port, an optional path; no query or fragment.
    pub fn parse(url: &str) -> Result<Self, Ec2Error> {
        let invalid = |reason: &str| Ec2Error::InvalidEndpoint {
            url: url.to_owned(),
            reason: reason.to_owned(),
        };
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| invalid("it has no scheme"))?;
        if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
            return Err(invalid("the scheme must be http or https"));
        }
        if rest.contains(['?', '#']) {
            return Err(invalid("it must not have a query or fragment"));
        }
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        if authority.is_empty()
            || authority.contains('@')
            || authority.contains(char::is_whitespace)
        {
            return Err(invalid("it needs a host (and no user info)"));
        }
        Ok(Endpoint {
            url: format!("{}://{authority}{path}", scheme.to_ascii_lowercase()),
            host: authority.to_owned(),
            path: path.to_owned(),
        })
    }

    /// The public AWS endpoint of `region` (`https://ec2.<region>.amazonaws.com/`).
    pub fn aws(region: &str) -> Result<Self, Ec2Error> {
        let suffix = if region.starts_with("cn-") {
            "amazonaws.com.cn"
        } else {
            "amazonaws.com"
        };
        if region.is_empty()
            || !region
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Err(Ec2Error::InvalidEndpoint {
                url: format!("https://ec2.{region}.{suffix}/"),
                reason: format!("{region:?} is not a region name like us-east-1"),
            });
        }
        Endpoint::parse(&format!("https://ec2.{region}.{suffix}/"))
    }

    /// The URL requests are posted to.
    pub fn url(&self) -> &str {
        &self.url
    }
}

/// Bounded retries: at most `max_attempts` tries, exponential backoff with jitter, and no
/// new attempt once `budget` has passed since the first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Tries in all, including the first (at least 1).
    pub max_attempts: u32,
    /// Backoff before the second try; doubles each time.
    pub base_delay: Duration,
    /// Cap on one backoff.
    pub max_delay: Duration,
    /// Total time for all tries and backoffs together.
    pub budget: Duration,
}

impl Default for RetryPolicy {
    /// 5 attempts, 100 ms doubling up to 2 s, 9.5 s in all.
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(2),
            budget: Duration::from_millis(9_500),
        }
    }
}

impl RetryPolicy {
    /// The backoff after failed try number `attempt` (1-based): `base * 2^(attempt-1)`, capped,
    /// with "equal jitter" (between half and all of it) drawn from `entropy`.
    fn backoff(&self, attempt: u32, entropy: u32) -> Duration {
        let exp = self
            .base_delay
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(16))
            .min(self.max_delay);
        let half = exp / 2;
        let jitter_ms = u64::from(entropy) % (half.as_millis() as u64 + 1);
        half + Duration::from_millis(jitter_ms)
    }
}

/// A synchronous EC2 client for one region and endpoint.
#[derive(Clone, Debug)]
pub struct Ec2Client {
    agent: ureq::Agent,
    endpoint: Endpoint,
    region: String,
    credentials: Arc<CredentialsProvider>,
    timeout: Duration,
    retry: RetryPolicy,
}

impl Ec2Client {
    /// A client for `region`, at `endpoint` (a base URL such as `http://127.0.0.1:8080`), or at
    /// the public AWS endpoint of the region when `None`. Default timeout 5 s per attempt and
    /// the default [`RetryPolicy`].
    pub fn new(
        region: &str,
        endpoint: Option<&str>,
        credentials: Credentials,
    ) -> Result<Self, Ec2Error> {
        Self::with_provider(
            region,
            endpoint,
            Arc::new(CredentialsProvider::fixed(credentials)),
        )
    }

    /// Like [`Ec2Client::new`], signing with whatever `provider` gives at each attempt
    /// (temporary credentials are refreshed by it before they expire).
    pub fn with_provider(
        region: &str,
        endpoint: Option<&str>,
        credentials: Arc<CredentialsProvider>,
    ) -> Result<Self, Ec2Error> {
        let endpoint = match endpoint {
            Some(url) => Endpoint::parse(url)?,
            None => Endpoint::aws(region)?,
        };
        Ok(Ec2Client {
            agent: ureq::AgentBuilder::new()
                .timeout_connect(Duration::from_secs(3))
                .build(),
            endpoint,
            region: region.to_owned(),
            credentials,
            timeout: Duration::from_secs(5),
            retry: RetryPolicy::default(),
        })
    }

    /// Sets the timeout of each attempt (the retry budget still bounds the total).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets the retry policy.
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// The credentials provider in use.
    pub fn credentials(&self) -> &Arc<CredentialsProvider> {
        &self.credentials
    }

    /// The endpoint in use.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// `DescribeInstances` for `instance_ids` (all pages).
    pub fn describe_instances(&self, instance_ids: &[&str]) -> Result<Vec<Instance>, Ec2Error> {
        let mut params: Vec<(String, String)> = instance_ids
            .iter()
            .enumerate()
            .map(|(i, id)| (format!("InstanceId.{}", i + 1), (*id).to_owned()))
            .collect();
        self.paginate("DescribeInstances", &mut params, model::describe_instances)
    }

    /// `DescribeNetworkInterfaces` with `filters` (all pages), e.g.
    /// [`Filter::attachment_instance_id`] or [`Filter::network_interface_id`].
    pub fn describe_network_interfaces(
        &self,
        filters: &[Filter],
    ) -> Result<Vec<NetworkInterface>, Ec2Error> {
        let mut params = filter_params(filters);
        self.paginate(
            "DescribeNetworkInterfaces",
            &mut params,
            model::describe_network_interfaces,
        )
    }

    /// `AssignIpv6Addresses` with `Ipv6PrefixCount=count`: delegates `count` new IPv6 prefixes
    /// (/80) to `eni_id`.
    pub fn assign_ipv6_prefix(&self, eni_id: &str, count: u32) -> Result<AssignedIpv6, Ec2Error> {
        self.assign_ipv6(eni_id, "Ipv6PrefixCount", count)
    }

    /// `AssignIpv6Addresses` with `Ipv6AddressCount=count`: assigns `count` new IPv6 addresses
    /// to `eni_id`.
    pub fn assign_ipv6_addresses(
        &self,
        eni_id: &str,
        count: u32,
    ) -> Result<AssignedIpv6, Ec2Error> {
        self.assign_ipv6(eni_id, "Ipv6AddressCount", count)
    }

    fn assign_ipv6(
        &self,
        eni_id: &str,
        count_param: &str,
        count: u32,
    ) -> Result<AssignedIpv6, Ec2Error> {
        const ACTION: &str = "AssignIpv6Addresses";
        let params = [
            ("NetworkInterfaceId".to_owned(), eni_id.to_owned()),
            (count_param.to_owned(), count.to_string()),
        ];
        let root = self.call(ACTION, &params)?;
        model::assign_ipv6(&root).map_err(|e| reply_error(ACTION, e.0))
    }

    /// Follows `nextToken` until the last page.
    fn paginate<T>(
        &self,
        action: &str,
        params: &mut Vec<(String, String)>,
        parse: fn(&Element) -> model::Page<T>,
    ) -> Result<Vec<T>, Ec2Error> {
        let mut out = Vec::new();
        for _ in 0..MAX_PAGES {
            let root = self.call(action, params)?;
            let (mut page, next) = parse(&root).map_err(|e| reply_error(action, e.0))?;
            out.append(&mut page);
            params.retain(|(k, _)| k != "NextToken");
            match next {
                Some(token) => params.push(("NextToken".to_owned(), token)),
                None => return Ok(out),
            }
        }
        Err(reply_error(
            action,
            format!(
                "more than {MAX_PAGES} pages of results; the endpoint keeps returning nextToken"
            ),
        ))
    }

    /// Calls `action` with `params` (retrying as the policy allows) and returns the root of
    /// the reply, checked to be `<{action}Response>`.
    pub fn call(&self, action: &str, params: &[(String, String)]) -> Result<Element, Ec2Error> {
        let mut form = form_urlencoded::Serializer::new(String::new());
        form.append_pair("Action", action);
        form.append_pair("Version", API_VERSION);
        for (k, v) in params {
            form.append_pair(k, v);
        }
        let body = form.finish();

        let start = Instant::now();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let remaining = self.retry.budget.saturating_sub(start.elapsed());
            let result = self.send_once(action, &body, self.timeout.min(remaining));
            let err = match result {
                Ok(root) => return Ok(root),
                Err(e) => e,
            };
            if !err.is_retryable() || attempt >= self.retry.max_attempts.max(1) {
                return Err(err);
            }
            let entropy = SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or(0);
            let delay = self.retry.backoff(attempt, entropy);
            if start.elapsed() + delay >= self.retry.budget {
                return Err(err);
            }
            std::thread::sleep(delay);
        }
    }

    fn send_once(&self, action: &str, body: &str, timeout: Duration) -> Result<Element, Ec2Error> {
        let headers = vec![
            ("Host".to_owned(), self.endpoint.host.clone()),
            (
                "Content-Type".to_owned(),
                "application/x-www-form-urlencoded; charset=utf-8".to_owned(),
            ),
        ];
        let request = HttpRequest {
            method: "POST",
            path: &self.endpoint.path,
            query: "",
            headers: &headers,
            body: body.as_bytes(),
        };
        let credentials =
            self.credentials
                .credentials()
                .map_err(|source| Ec2Error::Credentials {
                    action: action.to_owned(),
                    source: Box::new(source),
                })?;
        let signed = sigv4::sign(
            &request,
            &credentials,
            &SigningParams {
                region: &self.region,
                service: SIGNING_NAME,
                time: SystemTime::now(),
                content_sha256_header: false,
            },
        )
        .map_err(|source| Ec2Error::Sign {
            action: action.to_owned(),
            source,
        })?;
        let mut req = self.agent.post(&self.endpoint.url).timeout(timeout);
        for (name, value) in headers.iter().chain(&signed) {
            req = req.set(name, value);
        }
        let transport = |source: Box<dyn std::error::Error + Send + Sync>| Ec2Error::Transport {
            action: action.to_owned(),
            endpoint: self.endpoint.url.clone(),
            source,
        };
        let (status, text) = match req.send_bytes(body.as_bytes()) {
            Ok(resp) => {
                let status = resp.status();
                (
                    status,
                    resp.into_string().map_err(|e| transport(Box::new(e)))?,
                )
            }
            Err(ureq::Error::Status(status, resp)) => {
                let text = resp.into_string().map_err(|e| transport(Box::new(e)))?;
                return Err(from_error_reply(action, &self.endpoint.url, status, &text));
            }
            Err(ureq::Error::Transport(t)) => return Err(transport(Box::new(t))),
        };
        let root = xml::parse(&text).map_err(|e| {
            reply_error(
                action,
                format!("HTTP {status} body is not XML ({e}): {:?}", snippet(&text)),
            )
        })?;
        let expected = format!("{action}Response");
        if root.name != expected {
            return Err(reply_error(
                action,
                format!("root element is <{}>, expected <{expected}>", root.name),
            ));
        }
        Ok(root)
    }
}

fn snippet(text: &str) -> String {
    text.chars().take(200).collect()
}

fn reply_error(action: &str, detail: String) -> Ec2Error {
    Ec2Error::Reply {
        action: action.to_owned(),
        detail,
    }
}

/// `Filter.N.Name` / `Filter.N.Value.M` parameters (1-based, as the EC2 Query protocol wants).
fn filter_params(filters: &[Filter]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (i, f) in filters.iter().enumerate() {
        let n = i + 1;
        out.push((format!("Filter.{n}.Name"), f.name.clone()));
        for (j, v) in f.values.iter().enumerate() {
            out.push((format!("Filter.{n}.Value.{}", j + 1), v.clone()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_parses_base_urls() {
        let e = Endpoint::parse("http://127.0.0.1:8080").unwrap();
        assert_eq!(e.url(), "http://127.0.0.1:8080/");
        assert_eq!(e.host, "127.0.0.1:8080");
        assert_eq!(e.path, "/");
        let e = Endpoint::parse("HTTPS://[2001:db8::1]:8443/ec2").unwrap();
        assert_eq!(e.url(), "https://[2001:db8::1]:8443/ec2");
        assert_eq!(e.host, "[2001:db8::1]:8443");
        assert_eq!(e.path, "/ec2");
        for bad in [
            "127.0.0.1:8080",
            "ftp://x",
            "http://",
            "http://x/?a=b",
            "http://u@x/",
        ] {
            let err = Endpoint::parse(bad).unwrap_err();
            assert!(err.to_string().contains(bad), "{err}");
        }
    }

    #[test]
    fn aws_endpoint_follows_the_region() {
        assert_eq!(
            Endpoint::aws("us-west-2").unwrap().url(),
            "https://ec2.us-west-2.amazonaws.com/"
        );
        assert_eq!(
            Endpoint::aws("cn-north-1").unwrap().url(),
            "https://ec2.cn-north-1.amazonaws.com.cn/"
        );
        assert!(Endpoint::aws("us west").is_err());
    }

    #[test]
    fn filters_serialize_like_botocore() {
        let p = filter_params(&[
            Filter::attachment_instance_id("i-1"),
            Filter::new("tag:Name", ["a", "b"]),
        ]);
        let p: Vec<String> = p.iter().map(|(k, v)| format!("{k}={v}")).collect();
        assert_eq!(
            p,
            [
                "Filter.1.Name=attachment.instance-id",
                "Filter.1.Value.1=i-1",
                "Filter.2.Name=tag:Name",
                "Filter.2.Value.1=a",
                "Filter.2.Value.2=b"
            ]
        );
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        let r = RetryPolicy::default();
        for (attempt, full_ms) in [(1, 100), (2, 200), (3, 400), (4, 800), (5, 1600), (9, 2000)] {
            let lo = r.backoff(attempt, 0);
            let hi = r.backoff(attempt, u32::MAX - 1);
            assert_eq!(lo, Duration::from_millis(full_ms / 2), "attempt {attempt}");
            assert!(
                hi <= Duration::from_millis(full_ms) && hi >= lo,
                "attempt {attempt}"
            );
        }
        // Worst case of all backoffs of the default policy stays well inside the budget.
        let total: Duration = (1..5).map(|a| Duration::from_millis(100 << (a - 1))).sum();
        assert!(total < r.budget);
    }
}
