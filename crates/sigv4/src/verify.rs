//! The server side: check a received request's SigV4 signature (header or presigned query
//! form) and name the caller, or say precisely why not, in terms of the real EC2 error codes
//! and EKS error types.

use std::time::{Duration, SystemTime};

use hmac::Mac;

use crate::HttpRequest;
use crate::canonical::{
    ALGORITHM, CanonicalError, TERMINATOR, canonical_query, canonical_request, credential_scope,
    hmac_mac, percent_decode, sha256_hex, signing_key, string_to_sign,
};
use crate::time::AmzDate;

/// How far the request time may be from the server's clock (AWS allows 5 minutes).
pub const DEFAULT_MAX_SKEW: Duration = Duration::from_secs(300);

/// The longest validity a presigned URL may ask for (7 days, as AWS).
const MAX_PRESIGN_EXPIRES: u64 = 604_800;

/// What this endpoint expects of a signature.
#[derive(Clone, Copy, Debug)]
pub struct VerifyConfig<'a> {
    /// The region this endpoint serves; the credential scope must name it.
    pub region: &'a str,
    /// The signing name of the service (`ec2`, `eks`); the credential scope must name it.
    pub service: &'a str,
    /// Largest allowed difference between the request time and `now`.
    pub max_skew: Duration,
}

impl<'a> VerifyConfig<'a> {
    /// Expect `region` and `service`, with the default 5-minute skew.
    pub fn new(region: &'a str, service: &'a str) -> Self {
        VerifyConfig {
            region,
            service,
            max_skew: DEFAULT_MAX_SKEW,
        }
    }
}

/// Who signed a request that verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedIdentity {
    /// The access key id the request was signed with.
    pub access_key_id: String,
    /// The region of the credential scope (equal to the configured one).
    pub region: String,
    /// The service of the credential scope (equal to the configured one).
    pub service: String,
    /// `X-Amz-Security-Token`, when the caller sent one (the lookup decides whether it matters).
    pub session_token: Option<String>,
    /// The signing time the request claims.
    pub signed_at: AmzDate,
}

/// The authentication fields of a request, parsed but not yet checked. A server that serves
/// several services on one port can look at `service` to pick the protocol before verifying.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParsedAuth {
    /// The access key id of the `Credential=`.
    pub access_key_id: String,
    /// The `YYYYMMDD` date of the credential scope.
    pub scope_date: String,
    /// The region of the credential scope.
    pub region: String,
    /// The service of the credential scope.
    pub service: String,
    /// `SignedHeaders=`, split at `;`.
    pub signed_headers: Vec<String>,
    /// `Signature=` (hex, as sent).
    pub signature: String,
    /// The request time (`X-Amz-Date`).
    pub date: AmzDate,
    /// `X-Amz-Expires` of a presigned request.
    pub expires: Option<u64>,
    /// `X-Amz-Security-Token`, from the header or the presigned query.
    pub session_token: Option<String>,
}

/// Why a request is not authenticated. [`AuthError::ec2_code`] and
/// [`AuthError::eks_error_type`] give the wire code; [`AuthError::message`] the text for the
/// client; `Display` adds internal detail for logs. Neither ever holds a secret, a signature,
/// the canonical request or a header value ([`AuthError::log_reason`] is the one-line form).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No `Authorization` header and no presigned query.
    #[error(
        "request has no SigV4 authentication: sign it (configure AWS credentials for the CLI or SDK)"
    )]
    Missing,
    /// The authentication fields are malformed or incomplete.
    #[error("malformed SigV4 authentication: {detail}")]
    Incomplete {
        /// What is wrong, naming the offending value and the fix.
        detail: String,
    },
    /// The access key id is not known to this endpoint.
    #[error("unknown access key id {access_key_id:?}: use credentials issued by this region")]
    UnknownAccessKey {
        /// The access key id the request named.
        access_key_id: String,
    },
    /// The signature does not match the one computed with the key's secret.
    #[error("signature mismatch for access key {access_key_id:?}: {detail}")]
    SignatureMismatch {
        /// The access key id the request named.
        access_key_id: String,
        /// Internal detail for logs (which headers were signed); never sent, never a secret.
        detail: String,
    },
    /// The request time is too far from the server's clock, or a presigned URL has expired.
    #[error("{}", expired_message(*request_time, *server_time, *max_skew_secs, *expires))]
    Expired {
        /// The time the request claims.
        request_time: AmzDate,
        /// The server's time.
        server_time: AmzDate,
        /// The allowed skew in seconds.
        max_skew_secs: u64,
        /// `X-Amz-Expires` of a presigned request.
        expires: Option<u64>,
    },
    /// The credential scope names another region.
    #[error(
        "credential scope region {got:?} is wrong for this endpoint, which expects {expected:?}: sign for region {expected:?} (e.g. --region {expected})"
    )]
    WrongRegion {
        /// The region the request was signed for.
        got: String,
        /// The region this endpoint serves.
        expected: String,
    },
    /// The credential scope names another service.
    #[error(
        "credential scope service {got:?} is wrong for this endpoint, which expects {expected:?}: sign with service name {expected:?}"
    )]
    WrongService {
        /// The service the request was signed for.
        got: String,
        /// The service this endpoint serves.
        expected: String,
    },
    /// The credential scope date is not the date of `X-Amz-Date`.
    #[error(
        "credential scope date {scope_date:?} does not match the request date {request_date:?}: sign with the scope date taken from X-Amz-Date"
    )]
    ScopeDateMismatch {
        /// The date in the credential scope.
        scope_date: String,
        /// The date part of `X-Amz-Date`.
        request_date: String,
    },
}

fn expired_message(request: AmzDate, server: AmzDate, skew: u64, expires: Option<u64>) -> String {
    let min = skew / 60;
    if let Some(expires) = expires {
        let until =
            AmzDate::from_system_time(request.to_system_time() + Duration::from_secs(expires));
        if server > until {
            return format!(
                "Request has expired: the presigned URL signed at {request} expired at {until} \
                 ({expires} s); the server time is {server}. Presign a new URL."
            );
        }
    }
    let limit_past = AmzDate::from_system_time(
        server
            .to_system_time()
            .checked_sub(Duration::from_secs(skew))
            .unwrap_or(server.to_system_time()),
    );
    if request < server {
        format!(
            "Signature expired: {request} is now earlier than {limit_past} ({server} - {min} min.). \
             Sync the client's clock (or re-sign the request) and retry."
        )
    } else {
        let limit_future =
            AmzDate::from_system_time(server.to_system_time() + Duration::from_secs(skew));
        format!(
            "Signature not yet current: {request} is still later than {limit_future} ({server} + {min} min.). \
             Sync the client's clock and retry."
        )
    }
}

impl AuthError {
    /// A one-line reason for the log: the kind of failure and the scope values involved, never
    /// a header value, signature or secret (control characters escaped, values cut to 64).
    pub fn log_reason(&self) -> String {
        fn cut(s: &str) -> String {
            s.chars().take(64).flat_map(char::escape_debug).collect()
        }
        match self {
            AuthError::Missing => "no SigV4 authentication".into(),
            AuthError::Incomplete { .. } => "malformed SigV4 authentication".into(),
            AuthError::UnknownAccessKey { .. } => "unknown access key id".into(),
            AuthError::SignatureMismatch { .. } => "signature mismatch".into(),
            AuthError::Expired { .. } => "request time outside the allowed skew, or expired".into(),
            AuthError::WrongRegion { got, .. } => format!("signed for region \"{}\"", cut(got)),
            AuthError::WrongService { got, .. } => {
                format!("signed for service \"{}\"", cut(got))
            }
            AuthError::ScopeDateMismatch { .. } => "credential scope date mismatch".into(),
        }
    }

    /// The access key id the request named, when it got far enough to name one.
    pub fn access_key_id(&self) -> Option<&str> {
        match self {
            AuthError::UnknownAccessKey { access_key_id }
            | AuthError::SignatureMismatch { access_key_id, .. } => Some(access_key_id),
            _ => None,
        }
    }

    /// The EC2 Query API error code (`<Error><Code>`).
    pub fn ec2_code(&self) -> &'static str {
        match self {
            AuthError::Missing => "MissingAuthenticationToken",
            AuthError::Incomplete { .. } => "IncompleteSignature",
            AuthError::UnknownAccessKey { .. } => "AuthFailure",
            AuthError::SignatureMismatch { .. } | AuthError::ScopeDateMismatch { .. } => {
                "SignatureDoesNotMatch"
            }
            AuthError::Expired { .. } => "RequestExpired",
            AuthError::WrongRegion { .. } | AuthError::WrongService { .. } => "AuthFailure",
        }
    }

    /// The HTTP status EC2 answers this error with.
    pub fn ec2_status(&self) -> u16 {
        match self {
            AuthError::Incomplete { .. } | AuthError::Expired { .. } => 400,
            AuthError::SignatureMismatch { .. } | AuthError::ScopeDateMismatch { .. } => 403,
            AuthError::Missing
            | AuthError::UnknownAccessKey { .. }
            | AuthError::WrongRegion { .. }
            | AuthError::WrongService { .. } => 401,
        }
    }

    /// The EKS (rest-json) error type (`x-amzn-ErrorType`).
    pub fn eks_error_type(&self) -> &'static str {
        match self {
            AuthError::Missing => "MissingAuthenticationTokenException",
            AuthError::Incomplete { .. } => "IncompleteSignatureException",
            AuthError::UnknownAccessKey { .. } => "UnrecognizedClientException",
            AuthError::SignatureMismatch { .. }
            | AuthError::ScopeDateMismatch { .. }
            | AuthError::Expired { .. }
            | AuthError::WrongRegion { .. }
            | AuthError::WrongService { .. } => "InvalidSignatureException",
        }
    }

    /// The HTTP status EKS answers this error with.
    pub fn eks_status(&self) -> u16 {
        match self {
            AuthError::Incomplete { .. } => 400,
            _ => 403,
        }
    }

    /// The message for the client: AWS's own sentence where there is one, then the bad value
    /// and the fix. Never contains secrets or the canonical request.
    pub fn message(&self) -> String {
        match self {
            AuthError::Missing => "Request is missing Authentication Token. Sign the request with \
                                   SigV4 (configure AWS credentials for the CLI or SDK)."
                .to_owned(),
            AuthError::Incomplete { detail } => detail.clone(),
            AuthError::UnknownAccessKey { access_key_id } => format!(
                "The security token included in the request is invalid. Access key id \
                 {access_key_id} is not known to this region; use credentials it issued."
            ),
            AuthError::SignatureMismatch { .. } => "The request signature we calculated does \
                not match the signature you provided. Check your AWS Secret Access Key and \
                signing method. Consult the service documentation for details."
                .to_owned(),
            AuthError::Expired { .. } => self.to_string(),
            AuthError::WrongRegion { got, expected } => format!(
                "Credential should be scoped to a valid region, not '{got}'. This endpoint \
                 serves region '{expected}': sign for '{expected}' (--region {expected})."
            ),
            AuthError::WrongService { got, expected } => format!(
                "Credential should be scoped to correct service: '{expected}', not '{got}'."
            ),
            AuthError::ScopeDateMismatch {
                scope_date,
                request_date,
            } => format!(
                "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date \
                 from HTTP: '{scope_date}' != '{request_date}'."
            ),
        }
    }
}

fn incomplete(detail: impl Into<String>) -> AuthError {
    AuthError::Incomplete {
        detail: detail.into(),
    }
}

/// Decoded `(name, value)` pairs of a raw query string.
fn query_pairs(raw: &str) -> Vec<(String, String)> {
    raw.split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (
                String::from_utf8_lossy(&percent_decode(k)).into_owned(),
                String::from_utf8_lossy(&percent_decode(v)).into_owned(),
            )
        })
        .collect()
}

/// Splits `AKID/DATE/REGION/SERVICE/aws4_request`.
fn parse_credential(credential: &str) -> Result<(String, String, String, String), AuthError> {
    let parts: Vec<&str> = credential.split('/').collect();
    match parts.as_slice() {
        [akid, date, region, service, term]
            if *term == TERMINATOR && !akid.is_empty() && date.len() == 8 =>
        {
            Ok((
                (*akid).to_owned(),
                (*date).to_owned(),
                (*region).to_owned(),
                (*service).to_owned(),
            ))
        }
        _ => Err(incomplete(format!(
            "Credential {credential:?} is malformed; expecting \
             \"<AccessKeyId>/<YYYYMMDD>/<region>/<service>/aws4_request\"."
        ))),
    }
}

fn parse_signed_headers(value: &str) -> Result<Vec<String>, AuthError> {
    let names: Vec<String> = value.split(';').map(|s| s.trim().to_owned()).collect();
    if names.iter().any(String::is_empty) {
        return Err(incomplete(format!(
            "SignedHeaders {value:?} is malformed; expecting lower-case header names joined by ';'."
        )));
    }
    if !names.iter().any(|n| n.eq_ignore_ascii_case("host")) {
        return Err(incomplete(format!(
            "'Host' must be a 'SignedHeader' in the AWS Authorization (SignedHeaders={value:?}); \
             sign the Host header."
        )));
    }
    Ok(names)
}

fn parse_date(value: Option<&str>, source: &str) -> Result<AmzDate, AuthError> {
    let value = value.ok_or_else(|| {
        incomplete(format!(
            "Authorization requires the {source} parameter with the request time \
             (YYYYMMDD'T'HHMMSS'Z'); add it when signing."
        ))
    })?;
    AmzDate::parse(value.trim()).ok_or_else(|| {
        incomplete(format!(
            "{source} {value:?} is not a valid date; expecting YYYYMMDD'T'HHMMSS'Z', e.g. \
             20150830T123600Z."
        ))
    })
}

/// Parses the authentication of `request` (the `Authorization` header, else a presigned query)
/// without checking it. [`AuthError::Missing`] when there is neither.
pub fn parse_auth(request: &HttpRequest<'_>) -> Result<ParsedAuth, AuthError> {
    if let Some(header) = request.header("authorization") {
        return parse_header_auth(request, header);
    }
    let pairs = query_pairs(request.query);
    if pairs.iter().any(|(k, _)| k == "X-Amz-Algorithm") {
        return parse_query_auth(&pairs);
    }
    Err(AuthError::Missing)
}

fn parse_header_auth(request: &HttpRequest<'_>, header: &str) -> Result<ParsedAuth, AuthError> {
    let header = header.trim();
    let (algorithm, rest) = header
        .split_once(char::is_whitespace)
        .unwrap_or((header, ""));
    if algorithm != ALGORITHM {
        return Err(incomplete(format!(
            "Unsupported AWS 'algorithm': {algorithm:?}; sign with {ALGORITHM} (SigV4)."
        )));
    }
    let (mut credential, mut signed, mut signature) = (None, None, None);
    for part in rest.split(',') {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let (k, v) = part.split_once('=').ok_or_else(|| {
            incomplete(format!(
                "Authorization header part {part:?} is not a key=value pair."
            ))
        })?;
        match k.trim() {
            "Credential" => credential = Some(v.trim()),
            "SignedHeaders" => signed = Some(v.trim()),
            "Signature" => signature = Some(v.trim()),
            _ => {}
        }
    }
    let missing = |what: &str| {
        incomplete(format!(
            "Authorization header requires '{what}' parameter. Authorization={header}"
        ))
    };
    let credential = credential.ok_or_else(|| missing("Credential"))?;
    let signed = signed.ok_or_else(|| missing("SignedHeaders"))?;
    let signature = signature.ok_or_else(|| missing("Signature"))?;
    let (access_key_id, scope_date, region, service) = parse_credential(credential)?;
    let signed_headers = parse_signed_headers(signed)?;
    let date = parse_date(request.header("x-amz-date"), "X-Amz-Date header")?;
    Ok(ParsedAuth {
        access_key_id,
        scope_date,
        region,
        service,
        signed_headers,
        signature: signature.to_owned(),
        date,
        expires: None,
        session_token: request.header("x-amz-security-token").map(str::to_owned),
    })
}

fn parse_query_auth(pairs: &[(String, String)]) -> Result<ParsedAuth, AuthError> {
    let get = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let need = |name: &str| {
        get(name).ok_or_else(|| {
            incomplete(format!(
                "AWS query-string parameters must include '{name}'. Re-examine the query-string \
                 parameters."
            ))
        })
    };
    let algorithm = need("X-Amz-Algorithm")?;
    if algorithm != ALGORITHM {
        return Err(incomplete(format!(
            "Unsupported X-Amz-Algorithm {algorithm:?}; presign with {ALGORITHM} (SigV4)."
        )));
    }
    let (access_key_id, scope_date, region, service) = parse_credential(need("X-Amz-Credential")?)?;
    let signed_headers = parse_signed_headers(need("X-Amz-SignedHeaders")?)?;
    let signature = need("X-Amz-Signature")?.to_owned();
    let date = parse_date(get("X-Amz-Date"), "X-Amz-Date query parameter")?;
    let expires_raw = need("X-Amz-Expires")?;
    let expires = expires_raw
        .parse::<u64>()
        .ok()
        .filter(|e| *e <= MAX_PRESIGN_EXPIRES)
        .ok_or_else(|| {
            incomplete(format!(
                "X-Amz-Expires {expires_raw:?} must be a whole number of seconds between 0 and \
                 {MAX_PRESIGN_EXPIRES}."
            ))
        })?;
    Ok(ParsedAuth {
        access_key_id,
        scope_date,
        region,
        service,
        signed_headers,
        signature,
        date,
        expires: Some(expires),
        session_token: get("X-Amz-Security-Token").map(str::to_owned),
    })
}

/// Verifies the SigV4 signature of `request` as received, at server time `now`.
///
/// `lookup` maps an access key id to its secret access key (`None` when unknown). The checks
/// run in this order: presence and shape, credential scope (service, region, date), clock skew
/// (and presigned expiry), access key, payload hash, signature (compared in constant time).
pub fn verify<F>(
    request: &HttpRequest<'_>,
    now: SystemTime,
    config: &VerifyConfig<'_>,
    lookup: F,
) -> Result<VerifiedIdentity, AuthError>
where
    F: FnOnce(&str) -> Option<String>,
{
    let auth = parse_auth(request)?;
    if auth.service != config.service {
        return Err(AuthError::WrongService {
            got: auth.service,
            expected: config.service.to_owned(),
        });
    }
    if auth.region != config.region {
        return Err(AuthError::WrongRegion {
            got: auth.region,
            expected: config.region.to_owned(),
        });
    }
    let request_date = auth.date.date_stamp();
    if auth.scope_date != request_date {
        return Err(AuthError::ScopeDateMismatch {
            scope_date: auth.scope_date,
            request_date,
        });
    }
    let server_time = AmzDate::from_system_time(now);
    let skew_exceeded = auth.date.abs_diff(server_time) > config.max_skew;
    let presign_expired = auth
        .expires
        .is_some_and(|e| server_time.unix_seconds() > auth.date.unix_seconds().saturating_add(e));
    let too_early = auth.date > server_time && skew_exceeded;
    let expired = match auth.expires {
        // A presigned URL is good from its date until date + expires (not just 5 minutes).
        Some(_) => presign_expired || too_early,
        None => skew_exceeded,
    };
    if expired {
        return Err(AuthError::Expired {
            request_time: auth.date,
            server_time,
            max_skew_secs: config.max_skew.as_secs(),
            expires: auth.expires,
        });
    }
    let secret = lookup(&auth.access_key_id).ok_or_else(|| AuthError::UnknownAccessKey {
        access_key_id: auth.access_key_id.clone(),
    })?;

    let payload_hash = payload_hash(request, &auth)?;
    let query = if auth.expires.is_some() {
        canonical_query(request.query, &["X-Amz-Signature"])
    } else {
        canonical_query(request.query, &[])
    };
    let creq = canonical_request(
        request.method,
        request.path,
        &query,
        request.headers,
        &auth.signed_headers,
        &payload_hash,
    )
    .map_err(|e| match e {
        CanonicalError::MissingSignedHeader(name) => AuthError::SignatureMismatch {
            access_key_id: auth.access_key_id.clone(),
            detail: format!("signed header {name:?} is not in the request"),
        },
    })?;
    let scope = credential_scope(&auth.scope_date, &auth.region, &auth.service);
    let sts = string_to_sign(auth.date, &scope, &creq);
    let key = signing_key(&secret, &auth.scope_date, &auth.region, &auth.service);
    let provided = hex::decode(&auth.signature).unwrap_or_default();
    // `verify_slice` compares in constant time (and rejects a wrong length).
    if hmac_mac(&key, sts.as_bytes())
        .verify_slice(&provided)
        .is_err()
    {
        return Err(AuthError::SignatureMismatch {
            access_key_id: auth.access_key_id,
            // Never the canonical request, string to sign or signature: the canonical request
            // holds every signed header's value, X-Amz-Security-Token included.
            detail: format!(
                "the signature computed with the key's secret over the signed headers {:?} differs from the one sent",
                auth.signed_headers.join(";")
            ),
        });
    }
    Ok(VerifiedIdentity {
        access_key_id: auth.access_key_id,
        region: auth.region,
        service: auth.service,
        session_token: auth.session_token,
        signed_at: auth.date,
    })
}

/// The payload hash to put in the canonical request: `X-Amz-Content-Sha256` when present
/// (after checking it really is the body's hash), else the hash of the body.
fn payload_hash(request: &HttpRequest<'_>, auth: &ParsedAuth) -> Result<String, AuthError> {
    let actual = sha256_hex(request.body);
    let Some(claimed) = request.header("x-amz-content-sha256") else {
        return Ok(actual);
    };
    let claimed = claimed.trim();
    if claimed.len() == 64 && claimed.bytes().all(|b| b.is_ascii_hexdigit()) {
        if claimed.eq_ignore_ascii_case(&actual) {
            return Ok(claimed.to_owned());
        }
        return Err(AuthError::SignatureMismatch {
            access_key_id: auth.access_key_id.clone(),
            detail: format!(
                "X-Amz-Content-Sha256 {claimed} is not the SHA-256 of the body ({actual})"
            ),
        });
    }
    Err(incomplete(format!(
        "X-Amz-Content-Sha256 {claimed:?} is not supported here; send the hex SHA-256 of the \
         body (unsigned and streaming payloads are not accepted)."
    )))
}
