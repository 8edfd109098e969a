//! Raw AWS Query requests (EC2, IAM, STS, ELBv2) for what the AWS CLI cannot send or would
//! refuse first: a body SigV4-signed with chosen credentials, region and time (or not signed at
//! all), posted as it is, its status and reply kept whatever they are.

use std::time::{Duration, SystemTime};

/// How long one raw request may take.
const QUERY_TIMEOUT: Duration = Duration::from_secs(30);

/// The headers of an unsigned Query POST to `endpoint`: `Host` and the form `Content-Type`.
pub fn query_headers(endpoint: &str) -> Vec<(String, String)> {
    vec![
        (
            "Host".to_string(),
            endpoint.trim_start_matches("http://").to_string(),
        ),
        (
            "Content-Type".to_string(),
            "application/x-www-form-urlencoded; charset=utf-8".to_string(),
        ),
    ]
}

/// [`query_headers`] followed by what SigV4 adds (`X-Amz-Date`, `Authorization`, the session
/// token) when `body` is signed with `creds` for `service` in `region` at `time`.
pub fn signed_query_headers(
    endpoint: &str,
    body: &str,
    creds: &sigv4::Credentials,
    service: &str,
    region: &str,
    time: SystemTime,
) -> Vec<(String, String)> {
    let mut headers = query_headers(endpoint);
    let req = sigv4::HttpRequest {
        method: "POST",
        path: "/",
        query: "",
        headers: &headers,
        body: body.as_bytes(),
    };
    let params = sigv4::SigningParams {
        region,
        service,
        time,
        content_sha256_header: false,
    };
    let added = sigv4::sign(&req, creds, &params).expect("sign");
    headers.extend(added);
    headers
}

/// POST `body` with `headers` (`Host` is left to the HTTP client) to `endpoint`: (HTTP status,
/// reply), whatever the status; panics only when no answer comes.
pub fn post_query(endpoint: &str, headers: &[(String, String)], body: &str) -> (u16, String) {
    let mut r = ureq::post(&format!("{endpoint}/")).timeout(QUERY_TIMEOUT);
    for (k, v) in headers {
        if !k.eq_ignore_ascii_case("host") {
            r = r.set(k, v);
        }
    }
    match r.send_string(body) {
        Ok(resp) => (resp.status(), resp.into_string().unwrap_or_default()),
        Err(ureq::Error::Status(code, resp)) => (code, resp.into_string().unwrap_or_default()),
        Err(e) => panic!("transport: {e}"),
    }
}
