//! The client side: compute the SigV4 headers for a request about to be sent.

use std::time::SystemTime;

use crate::canonical::{
    ALGORITHM, canonical_query, canonical_request, credential_scope, hmac, sha256_hex, signing_key,
    string_to_sign,
};
use crate::time::AmzDate;
use crate::{Credentials, HttpRequest};

/// Headers a hop may rewrite, so they are never signed (botocore's blacklist).
const UNSIGNED_HEADERS: &[&str] = &[
    "connection",
    "expect",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "user-agent",
    "x-amzn-trace-id",
    "authorization",
];

/// Headers [`sign`] produces itself; any copy already in the request is ignored and should be
/// replaced by the returned one.
const GENERATED_HEADERS: &[&str] = &["x-amz-date", "x-amz-security-token", "x-amz-content-sha256"];

/// Where and when a request is signed.
#[derive(Clone, Copy, Debug)]
pub struct SigningParams<'a> {
    /// The region of the credential scope, e.g. `us-east-1`.
    pub region: &'a str,
    /// The signing name of the service, e.g. `ec2` or `eks`.
    pub service: &'a str,
    /// The signing time (the caller reads the clock).
    pub time: SystemTime,
    /// Also send (and sign) `X-Amz-Content-Sha256` with the payload hash.
    pub content_sha256_header: bool,
}

/// Why a request could not be signed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignError {
    /// SigV4 requires the `Host` header to be signed.
    #[error(
        "the request to sign has no Host header: add `Host: <host[:port]>` exactly as it will be sent"
    )]
    MissingHost,
    /// The region or service is empty or contains `/`, which would corrupt the scope.
    #[error(
        "invalid credential scope part {value:?} for {what}: use a non-empty name without `/` (e.g. `us-east-1`, `ec2`)"
    )]
    InvalidScope {
        /// `region` or `service`.
        what: &'static str,
        /// The offending value.
        value: String,
    },
}

/// Signs `request` and returns the headers to add to it, in this order: `X-Amz-Date`,
/// `X-Amz-Security-Token` (with a session token), `X-Amz-Content-Sha256` (when asked),
/// `Authorization`.
///
/// Every header of `request` is signed except hop-by-hop ones and `User-Agent` (as botocore
/// does), so the caller must send them unchanged. `request.headers` must contain `Host`.
pub fn sign(
    request: &HttpRequest<'_>,
    credentials: &Credentials,
    params: &SigningParams<'_>,
) -> Result<Vec<(String, String)>, SignError> {
    for (what, value) in [("region", params.region), ("service", params.service)] {
        if value.is_empty() || value.contains('/') {
            return Err(SignError::InvalidScope {
                what,
                value: value.to_owned(),
            });
        }
    }
    if request.header("host").is_none() {
        return Err(SignError::MissingHost);
    }
    let time = AmzDate::from_system_time(params.time);
    let payload_hash = sha256_hex(request.body);

    let mut added: Vec<(String, String)> = vec![("X-Amz-Date".to_owned(), time.to_string())];
    if let Some(token) = &credentials.session_token {
        added.push(("X-Amz-Security-Token".to_owned(), token.clone()));
    }
    if params.content_sha256_header {
        added.push(("X-Amz-Content-Sha256".to_owned(), payload_hash.clone()));
    }

    let mut to_sign: Vec<(String, String)> = request
        .headers
        .iter()
        .filter(|(n, _)| {
            let n = n.trim().to_ascii_lowercase();
            !UNSIGNED_HEADERS.contains(&n.as_str()) && !GENERATED_HEADERS.contains(&n.as_str())
        })
        .cloned()
        .collect();
    to_sign.extend(added.iter().cloned());

    let mut names: Vec<String> = to_sign
        .iter()
        .map(|(n, _)| n.trim().to_ascii_lowercase())
        .collect();
    names.sort();
    names.dedup();

    let creq = canonical_request(
        request.method,
        request.path,
        &canonical_query(request.query, &[]),
        &to_sign,
        &names,
        &payload_hash,
    )
    // Every name in `names` came from `to_sign`, so no signed header can be missing.
    .map_err(|_| SignError::MissingHost)?;
    let date = time.date_stamp();
    let scope = credential_scope(&date, params.region, params.service);
    let sts = string_to_sign(time, &scope, &creq);
    let key = signing_key(
        &credentials.secret_access_key,
        &date,
        params.region,
        params.service,
    );
    let signature = hex::encode(hmac(&key, sts.as_bytes()));
    added.push((
        "Authorization".to_owned(),
        format!(
            "{ALGORITHM} Credential={}/{scope}, SignedHeaders={}, Signature={signature}",
            credentials.access_key_id,
            names.join(";")
        ),
    ));
    Ok(added)
}
