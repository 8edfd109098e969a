//! AWS Signature Version 4 (`AWS4-HMAC-SHA256`) for both ends of a connection.
//!
//! - A client calls [`sign`] with the request it is about to send and gets the headers to add
//!   (`X-Amz-Date`, `Authorization`, and optionally `X-Amz-Security-Token` and
//!   `X-Amz-Content-Sha256`).
//! - A server calls [`verify`] with the request exactly as received and a lookup from access key
//!   id to secret, and gets the caller's [`VerifiedIdentity`] or an [`AuthError`] that knows its
//!   EC2 error code and EKS error type.
//!
//! The crate is pure: it does no I/O and never reads the clock or a random source; the time and
//! the RNG are arguments. It computes what botocore (the AWS CLI) computes for non-S3 services,
//! which the tests check against the AWS test-suite vectors and against botocore itself.

mod canonical;
mod keys;
mod sign;
mod time;
mod verify;

pub use canonical::{
    ALGORITHM, EMPTY_SHA256, canonical_query, canonical_uri, credential_scope, sha256_hex,
    signing_key, string_to_sign, uri_encode,
};
pub use keys::generate_credentials;
pub use sign::{SignError, SigningParams, sign};
pub use time::AmzDate;
pub use verify::{
    AuthError, DEFAULT_MAX_SKEW, ParsedAuth, VerifiedIdentity, VerifyConfig, parse_auth, verify,
};

use std::fmt;

/// Long-term (or temporary, with a session token) AWS credentials.
///
/// `Debug` never prints the secret or the token.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The access key id (`AKIA...` for long-term keys, `ASIA...` for temporary ones).
    pub access_key_id: String,
    /// The secret access key; never logged.
    pub secret_access_key: String,
    /// The session token of temporary credentials, sent as `X-Amz-Security-Token`.
    pub session_token: Option<String>,
}

impl Credentials {
    /// Long-term credentials without a session token.
    pub fn new(access_key_id: impl Into<String>, secret_access_key: impl Into<String>) -> Self {
        Credentials {
            access_key_id: access_key_id.into(),
            secret_access_key: secret_access_key.into(),
            session_token: None,
        }
    }

    /// The same credentials with a session token.
    pub fn with_session_token(mut self, token: impl Into<String>) -> Self {
        self.session_token = Some(token.into());
        self
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// An HTTP request as it goes on (or came off) the wire.
///
/// `path` and `query` are the raw, still percent-encoded forms (the request target split at
/// the first `?`, without the `?`); `headers` keeps every header in order, duplicates included.
#[derive(Clone, Copy, Debug)]
pub struct HttpRequest<'a> {
    /// `GET`, `POST`, ...
    pub method: &'a str,
    /// The raw path, e.g. `/clusters/my%20cluster`; empty means `/`.
    pub path: &'a str,
    /// The raw query string without `?`, e.g. `Action=DescribeVpcs&Version=2016-11-15`.
    pub query: &'a str,
    /// Header `(name, value)` pairs; names are matched case-insensitively.
    pub headers: &'a [(String, String)],
    /// The request body.
    pub body: &'a [u8],
}

impl<'a> HttpRequest<'a> {
    /// Every value of header `name` (case-insensitive), in order.
    pub fn header_values<'s>(&self, name: &'s str) -> impl Iterator<Item = &'a str> + 's
    where
        'a: 's,
    {
        self.headers
            .iter()
            .filter(move |(n, _)| n.trim().eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&'a str> {
        self.headers
            .iter()
            .find(|(n, _)| n.trim().eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_redacts_secrets() {
        let c = Credentials::new("AKIDEXAMPLE", "supersecret").with_session_token("tok");
        let s = format!("{c:?}");
        assert!(s.contains("AKIDEXAMPLE"));
        assert!(!s.contains("supersecret"));
        assert!(!s.contains("tok\""));
    }
}
