//! The canonical request, the string to sign and the signing key: the parts of SigV4 shared by
//! the signer and the verifier, written to match what botocore (the AWS CLI) computes for
//! non-S3 services.
//!
//! Path: botocore signs `quote(remove_dot_segments(path), safe='/~')` of the path *as it
//! appears in the URL*, which for REST services is already percent-encoded, so segments end up
//! encoded twice (`%20` is signed as `%2520`); that is the documented rule for every service
//! but S3. A server therefore encodes the raw wire path once more, exactly like the client.
//!
//! Query: each `key=value` pair is percent-decoded (`%XX` only; `+` is a literal plus), then
//! RFC 3986 encoded and the pairs sorted by key, then value.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::time::AmzDate;

/// The only algorithm sixfold signs with or accepts.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// The credential scope terminator.
pub const TERMINATOR: &str = "aws4_request";
/// `sha256("")` in hex: the payload hash of an empty body.
pub const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

type HmacSha256 = Hmac<Sha256>;

/// Hex SHA-256 of `data`.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// HMAC-SHA256 of `msg` under `key`.
pub(crate) fn hmac(key: &[u8], msg: &[u8]) -> Vec<u8> {
    // HMAC accepts keys of any length, so `new_from_slice` cannot fail here.
    let mut mac = match HmacSha256::new_from_slice(key) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC-SHA256 accepts keys of every length"),
    };
    mac.update(msg);
    mac.finalize().into_bytes().to_vec()
}

/// A prepared HMAC over `msg` under `key`, for a constant-time comparison.
pub(crate) fn hmac_mac(key: &[u8], msg: &[u8]) -> HmacSha256 {
    let mut mac = match HmacSha256::new_from_slice(key) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC-SHA256 accepts keys of every length"),
    };
    mac.update(msg);
    mac
}

/// The SigV4 signing key: `HMAC(HMAC(HMAC(HMAC("AWS4"+secret, date), region), service),
/// "aws4_request")`.
pub fn signing_key(secret: &str, date_stamp: &str, region: &str, service: &str) -> Vec<u8> {
    let k_date = hmac(format!("AWS4{secret}").as_bytes(), date_stamp.as_bytes());
    let k_region = hmac(&k_date, region.as_bytes());
    let k_service = hmac(&k_region, service.as_bytes());
    hmac(&k_service, TERMINATOR.as_bytes())
}

/// `date/region/service/aws4_request`.
pub fn credential_scope(date_stamp: &str, region: &str, service: &str) -> String {
    format!("{date_stamp}/{region}/{service}/{TERMINATOR}")
}

/// The string to sign for a canonical request made at `time` in `scope`.
pub fn string_to_sign(time: AmzDate, scope: &str, canonical_request: &str) -> String {
    format!(
        "{ALGORITHM}\n{time}\n{scope}\n{}",
        sha256_hex(canonical_request.as_bytes())
    )
}

/// Percent-encodes every byte except RFC 3986 unreserved characters (and `/` when
/// `keep_slash`), with upper-case hex, like Python's `quote(s, safe='-_.~')`.
pub fn uri_encode(input: &[u8], keep_slash: bool) -> String {
    let mut out = String::with_capacity(input.len() * 3);
    for &b in input {
        if b.is_ascii_alphanumeric()
            || matches!(b, b'-' | b'_' | b'.' | b'~')
            || (keep_slash && b == b'/')
        {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX_UPPER[usize::from(b >> 4)]));
            out.push(char::from(HEX_UPPER[usize::from(b & 0xf)]));
        }
    }
    out
}

const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";

/// Decodes `%XX` escapes; a `%` not followed by two hex digits is kept literally.
pub fn percent_decode(input: &str) -> Vec<u8> {
    let b = input.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let (Some(h), Some(l)) = (hex_val(b[i + 1]), hex_val(b[i + 2]))
        {
            out.push(h << 4 | l);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// RFC 3986 section 5.2.4 dot-segment removal, also collapsing empty segments (`//`), as
/// botocore's `normalize_url_path` does. The empty path becomes `/`.
pub fn normalize_path(path: &str) -> String {
    if path.is_empty() {
        return "/".to_owned();
    }
    let mut out: Vec<&str> = Vec::new();
    for seg in path.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            s => out.push(s),
        }
    }
    let first = if path.starts_with('/') { "/" } else { "" };
    let last = if path.ends_with('/') && !out.is_empty() {
        "/"
    } else {
        ""
    };
    format!("{first}{}{last}", out.join("/"))
}

/// The canonical URI of a raw (as-sent) request path.
pub fn canonical_uri(raw_path: &str) -> String {
    uri_encode(normalize_path(raw_path).as_bytes(), true)
}

/// The canonical query string of a raw query string (without the leading `?`), leaving out
/// parameters named in `exclude` (the presigned `X-Amz-Signature`).
pub fn canonical_query(raw_query: &str, exclude: &[&str]) -> String {
    let mut pairs: Vec<(String, String)> = raw_query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (
                uri_encode(&percent_decode(k), false),
                uri_encode(&percent_decode(v), false),
            )
        })
        .filter(|(k, _)| !exclude.iter().any(|x| x == k))
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// `Trimall`: strips leading and trailing whitespace and collapses inner runs to one space.
pub fn trim_all(value: &str) -> String {
    value.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Why a canonical request could not be built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CanonicalError {
    /// A header named in SignedHeaders is absent from the request.
    MissingSignedHeader(String),
}

/// Builds the canonical request over exactly `signed_headers` (lower-case, sorted, as they
/// appear in the `SignedHeaders=` list), taking every value of each such header from
/// `headers` (matched case-insensitively, values trimmed and joined with `,` in order).
pub(crate) fn canonical_request(
    method: &str,
    raw_path: &str,
    canonical_query: &str,
    headers: &[(String, String)],
    signed_headers: &[String],
    payload_hash: &str,
) -> Result<String, CanonicalError> {
    let mut out = String::with_capacity(256);
    out.push_str(&method.to_ascii_uppercase());
    out.push('\n');
    out.push_str(&canonical_uri(raw_path));
    out.push('\n');
    out.push_str(canonical_query);
    out.push('\n');
    for name in signed_headers {
        let values: Vec<String> = headers
            .iter()
            .filter(|(n, _)| n.trim().eq_ignore_ascii_case(name))
            .map(|(_, v)| trim_all(v))
            .collect();
        if values.is_empty() {
            return Err(CanonicalError::MissingSignedHeader(name.clone()));
        }
        out.push_str(name);
        out.push(':');
        out.push_str(&values.join(","));
        out.push('\n');
    }
    out.push('\n');
    out.push_str(&signed_headers.join(";"));
    out.push('\n');
    out.push_str(payload_hash);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_encode_keeps_only_unreserved() {
        assert_eq!(uri_encode(b"a b/c~d", false), "a%20b%2Fc~d");
        assert_eq!(uri_encode(b"a b/c~d", true), "a%20b/c~d");
        assert_eq!(uri_encode("ሴ".as_bytes(), true), "%E1%88%B4");
        assert_eq!(uri_encode(b"+*", false), "%2B%2A");
    }

    #[test]
    fn percent_decode_leaves_plus_and_broken_escapes() {
        assert_eq!(percent_decode("a%20b+c"), b"a b+c");
        assert_eq!(percent_decode("100%"), b"100%");
        assert_eq!(percent_decode("%zz%4"), b"%zz%4");
        assert_eq!(percent_decode("%e1%88%b4"), "ሴ".as_bytes());
    }

    #[test]
    fn normalize_path_matches_botocore() {
        assert_eq!(normalize_path(""), "/");
        assert_eq!(normalize_path("/"), "/");
        assert_eq!(normalize_path("/a/./b/../c/"), "/a/c/");
        assert_eq!(normalize_path("//a//b"), "/a/b");
        assert_eq!(normalize_path("/.."), "/");
    }

    #[test]
    fn canonical_uri_encodes_the_wire_path_again() {
        assert_eq!(canonical_uri("/clusters/a%20b"), "/clusters/a%2520b");
        assert_eq!(canonical_uri("/"), "/");
    }

    #[test]
    fn canonical_query_sorts_by_encoded_key_then_value() {
        assert_eq!(
            canonical_query("Param2=value2&Param1=value1", &[]),
            "Param1=value1&Param2=value2"
        );
        assert_eq!(canonical_query("a=2&a=1&b", &[]), "a=1&a=2&b=");
        assert_eq!(canonical_query("k=a%20b&j=x+y", &[]), "j=x%2By&k=a%20b");
        assert_eq!(
            canonical_query("X-Amz-Signature=abc&A=1", &["X-Amz-Signature"]),
            "A=1"
        );
    }

    #[test]
    fn trim_all_collapses_inner_whitespace() {
        assert_eq!(trim_all("  \"a   b \t  c\"  "), "\"a b c\"");
    }
}
