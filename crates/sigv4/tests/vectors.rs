//! The AWS SigV4 test-suite vectors (service `service`, region `us-east-1`, the documented
//! example credentials, 2015-08-30T12:36:00Z), signed and then verified, plus round trips and
//! tamper tests of the verifier.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sigv4::{
    AuthError, Credentials, HttpRequest, SigningParams, VerifyConfig, generate_credentials, sign,
    verify,
};

const AKID: &str = "AKIDEXAMPLE";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const TOKEN: &str = "AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA==";

/// 2015-08-30T12:36:00Z.
fn suite_time() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_440_938_160)
}

struct Vector {
    name: &'static str,
    method: &'static str,
    path: &'static str,
    query: &'static str,
    headers: &'static [(&'static str, &'static str)],
    body: &'static str,
    token: bool,
    signed_headers: &'static str,
    signature: &'static str,
}

const VECTORS: &[Vector] = &[
    Vector {
        name: "get-vanilla",
        method: "GET",
        path: "/",
        query: "",
        headers: &[],
        body: "",
        token: false,
        signed_headers: "host;x-amz-date",
        signature: "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
    },
    Vector {
        name: "get-vanilla-query-order-key-case",
        method: "GET",
        path: "/",
        query: "Param2=value2&Param1=value1",
        headers: &[],
        body: "",
        token: false,
        signed_headers: "host;x-amz-date",
        signature: "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500",
    },
    Vector {
        name: "get-unreserved",
        method: "GET",
        path: "/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
        query: "",
        headers: &[],
        body: "",
        token: false,
        signed_headers: "host;x-amz-date",
        signature: "07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f",
    },
    Vector {
        name: "get-utf8",
        method: "GET",
        path: "/ሴ",
        query: "",
        headers: &[],
        body: "",
        token: false,
        signed_headers: "host;x-amz-date",
        signature: "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85",
    },
    Vector {
        name: "get-vanilla-query-unreserved",
        method: "GET",
        path: "/",
        query: "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz=-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
        headers: &[],
        body: "",
        token: false,
        signed_headers: "host;x-amz-date",
        signature: "9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197",
    },
    Vector {
        name: "get-vanilla-utf8-query",
        method: "GET",
        path: "/",
        query: "%E1%88%B4=bar",
        headers: &[],
        body: "",
        token: false,
        signed_headers: "host;x-amz-date",
        signature: "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04",
    },
    Vector {
        name: "get-header-value-trim",
        method: "GET",
        path: "/",
        query: "",
        headers: &[("My-Header1", " value1"), ("My-Header2", " \"a   b   c\"")],
        body: "",
        token: false,
        signed_headers: "host;my-header1;my-header2;x-amz-date",
        signature: "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736",
    },
    Vector {
        name: "post-vanilla",
        method: "POST",
        path: "/",
        query: "",
        headers: &[],
        body: "",
        token: false,
        signed_headers: "host;x-amz-date",
        signature: "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b",
    },
    Vector {
        name: "post-header-key-sort",
        method: "POST",
        path: "/",
        query: "",
        headers: &[("My-Header1", "value1")],
        body: "",
        token: false,
        signed_headers: "host;my-header1;x-amz-date",
        signature: "c5410059b04c1ee005303aed430f6e6645f61f4dc9e1461ec8f8916fdf18852c",
    },
    Vector {
        name: "post-header-value-case",
        method: "POST",
        path: "/",
        query: "",
        headers: &[("My-Header1", "VALUE1")],
        body: "",
        token: false,
        signed_headers: "host;my-header1;x-amz-date",
        signature: "cdbc9802e29d2942e5e10b5bccfdd67c5f22c7c4e8ae67b53629efa58b974b7d",
    },
    Vector {
        name: "post-vanilla-query",
        method: "POST",
        path: "/",
        query: "Param1=value1",
        headers: &[],
        body: "",
        token: false,
        signed_headers: "host;x-amz-date",
        signature: "28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11",
    },
    Vector {
        name: "post-vanilla-query-nonunreserved",
        method: "POST",
        path: "/",
        query: "%40%23%24%25%5E=&%2B=%2F%2C%3F%3E%3C%60%22%3B%3A%5C%7C%5D%5B%7B%7D",
        headers: &[],
        body: "",
        token: false,
        signed_headers: "host;x-amz-date",
        signature: "66c82657c86e26fb25238d0e69f011edc4c6df5ae71119d7cb98ed9b87393c1e",
    },
    Vector {
        name: "post-x-www-form-urlencoded",
        method: "POST",
        path: "/",
        query: "",
        headers: &[("Content-Type", "application/x-www-form-urlencoded")],
        body: "Param1=value1",
        token: false,
        signed_headers: "content-type;host;x-amz-date",
        signature: "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a",
    },
    Vector {
        name: "post-sts-header-before",
        method: "POST",
        path: "/",
        query: "",
        headers: &[],
        body: "",
        token: true,
        signed_headers: "host;x-amz-date;x-amz-security-token",
        signature: "85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead",
    },
];

fn headers_of(v: &Vector) -> Vec<(String, String)> {
    let mut h = vec![("Host".to_owned(), "example.amazonaws.com".to_owned())];
    h.extend(
        v.headers
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned())),
    );
    h
}

fn suite_credentials(token: bool) -> Credentials {
    let c = Credentials::new(AKID, SECRET);
    if token {
        c.with_session_token(TOKEN)
    } else {
        c
    }
}

fn lookup(akid: &str) -> Option<String> {
    (akid == AKID).then(|| SECRET.to_owned())
}

#[test]
fn signer_reproduces_the_aws_test_suite() {
    for v in VECTORS {
        let headers = headers_of(v);
        let req = HttpRequest {
            method: v.method,
            path: v.path,
            query: v.query,
            headers: &headers,
            body: v.body.as_bytes(),
        };
        let params = SigningParams {
            region: "us-east-1",
            service: "service",
            time: suite_time(),
            content_sha256_header: false,
        };
        let added = sign(&req, &suite_credentials(v.token), &params).expect(v.name);
        let auth = &added.last().expect("authorization").1;
        assert_eq!(
            auth,
            &format!(
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
                 SignedHeaders={}, Signature={}",
                v.signed_headers, v.signature
            ),
            "vector {}",
            v.name
        );
        assert_eq!(added[0], ("X-Amz-Date".into(), "20150830T123600Z".into()));
    }
}

#[test]
fn verifier_accepts_the_aws_test_suite() {
    for v in VECTORS {
        let mut headers = headers_of(v);
        headers.push(("X-Amz-Date".into(), "20150830T123600Z".into()));
        if v.token {
            headers.push(("X-Amz-Security-Token".into(), TOKEN.into()));
        }
        headers.push((
            "Authorization".into(),
            format!(
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
                 SignedHeaders={}, Signature={}",
                v.signed_headers, v.signature
            ),
        ));
        let req = HttpRequest {
            method: v.method,
            path: v.path,
            query: v.query,
            headers: &headers,
            body: v.body.as_bytes(),
        };
        let id = verify(
            &req,
            suite_time() + Duration::from_secs(60),
            &VerifyConfig::new("us-east-1", "service"),
            lookup,
        )
        .unwrap_or_else(|e| panic!("vector {}: {e}", v.name));
        assert_eq!(id.access_key_id, AKID);
        assert_eq!(id.region, "us-east-1");
        assert_eq!(id.service, "service");
        assert_eq!(id.session_token.as_deref(), v.token.then_some(TOKEN));
    }
}

/// An EC2-style signed form POST: the request the tamper tests start from.
struct Signed {
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

fn signed_ec2_post(creds: &Credentials, time: SystemTime, region: &str) -> Signed {
    let body = b"Action=DescribeNetworkInterfaces&Version=2016-11-15".to_vec();
    let mut headers = vec![
        ("Host".to_owned(), "127.0.0.1:8080".to_owned()),
        (
            "Content-Type".to_owned(),
            "application/x-www-form-urlencoded; charset=utf-8".to_owned(),
        ),
    ];
    let req = HttpRequest {
        method: "POST",
        path: "/",
        query: "",
        headers: &headers,
        body: &body,
    };
    let params = SigningParams {
        region,
        service: "ec2",
        time,
        content_sha256_header: true,
    };
    let added = sign(&req, creds, &params).expect("sign");
    headers.extend(added);
    Signed { headers, body }
}

fn check(s: &Signed, now: SystemTime, creds: &Credentials) -> Result<(), AuthError> {
    let req = HttpRequest {
        method: "POST",
        path: "/",
        query: "",
        headers: &s.headers,
        body: &s.body,
    };
    let secret = creds.secret_access_key.clone();
    let akid = creds.access_key_id.clone();
    verify(
        &req,
        now,
        &VerifyConfig::new("us-west-2", "ec2"),
        move |k| (k == akid).then_some(secret),
    )
    .map(|_| ())
}

fn t0() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_700_000_000)
}

fn creds() -> Credentials {
    let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(42);
    generate_credentials(&mut rng)
}

#[test]
fn round_trip_sign_then_verify_succeeds() {
    let c = creds();
    let s = signed_ec2_post(&c, t0(), "us-west-2");
    check(&s, t0(), &c).expect("verifies");
    check(&s, t0() + Duration::from_secs(299), &c).expect("within skew");
}

#[test]
fn tampered_body_is_rejected() {
    let c = creds();
    let mut s = signed_ec2_post(&c, t0(), "us-west-2");
    s.body = b"Action=AssignIpv6Addresses&Version=2016-11-15".to_vec();
    let err = check(&s, t0(), &c).unwrap_err();
    assert_eq!(err.ec2_code(), "SignatureDoesNotMatch");
    // Without the content-sha256 header the body hash itself is signed.
    s.headers.retain(|(n, _)| n != "X-Amz-Content-Sha256");
    let err = check(&s, t0(), &c).unwrap_err();
    assert_eq!(err.ec2_code(), "SignatureDoesNotMatch");
    assert_eq!(err.eks_error_type(), "InvalidSignatureException");
    assert!(
        err.message()
            .starts_with("The request signature we calculated")
    );
}

#[test]
fn tampered_signed_header_is_rejected() {
    let c = creds();
    let mut s = signed_ec2_post(&c, t0(), "us-west-2");
    for (n, v) in &mut s.headers {
        if n == "Host" {
            *v = "evil.example:8080".into();
        }
    }
    let err = check(&s, t0(), &c).unwrap_err();
    assert_eq!(err.ec2_code(), "SignatureDoesNotMatch");
}

#[test]
fn tampered_date_is_rejected() {
    let c = creds();
    let mut s = signed_ec2_post(&c, t0(), "us-west-2");
    for (n, v) in &mut s.headers {
        if n == "X-Amz-Date" {
            // Same day, one second later: the scope still matches, the signature does not.
            *v = sigv4::AmzDate::from_system_time(t0() + Duration::from_secs(1)).to_string();
        }
    }
    let err = check(&s, t0(), &c).unwrap_err();
    assert_eq!(err.ec2_code(), "SignatureDoesNotMatch");
}

#[test]
fn request_older_than_five_minutes_has_expired() {
    let c = creds();
    let s = signed_ec2_post(&c, t0(), "us-west-2");
    let err = check(&s, t0() + Duration::from_secs(301), &c).unwrap_err();
    assert_eq!(err.ec2_code(), "RequestExpired");
    assert_eq!(err.eks_error_type(), "InvalidSignatureException");
    assert!(
        err.message()
            .starts_with("Signature expired: 20231114T221320Z"),
        "{}",
        err.message()
    );
    let err = check(&s, t0() - Duration::from_secs(301), &c).unwrap_err();
    assert_eq!(err.ec2_code(), "RequestExpired");
    assert!(
        err.message().contains("not yet current"),
        "{}",
        err.message()
    );
}

#[test]
fn wrong_region_names_both_regions() {
    let c = creds();
    let s = signed_ec2_post(&c, t0(), "eu-central-1");
    let err = check(&s, t0(), &c).unwrap_err();
    assert_eq!(
        err,
        AuthError::WrongRegion {
            got: "eu-central-1".into(),
            expected: "us-west-2".into()
        }
    );
    assert_eq!(err.ec2_code(), "AuthFailure");
    let msg = err.message();
    assert!(
        msg.contains("eu-central-1") && msg.contains("us-west-2"),
        "{msg}"
    );
}

#[test]
fn wrong_service_is_rejected() {
    let c = creds();
    let s = signed_ec2_post(&c, t0(), "us-west-2");
    let req = HttpRequest {
        method: "POST",
        path: "/",
        query: "",
        headers: &s.headers,
        body: &s.body,
    };
    let err = verify(&req, t0(), &VerifyConfig::new("us-west-2", "eks"), |_| None).unwrap_err();
    assert_eq!(
        err,
        AuthError::WrongService {
            got: "ec2".into(),
            expected: "eks".into()
        }
    );
    assert!(err.message().contains("'eks'"));
}

#[test]
fn unknown_access_key_maps_to_auth_failure_and_unrecognized_client() {
    let c = creds();
    let s = signed_ec2_post(&c, t0(), "us-west-2");
    let other = Credentials::new("AKIAOTHEROTHEROTHER0", "x");
    let err = check(&s, t0(), &other).unwrap_err();
    assert_eq!(err.ec2_code(), "AuthFailure");
    assert_eq!(err.eks_error_type(), "UnrecognizedClientException");
    assert!(
        err.message()
            .starts_with("The security token included in the request is invalid.")
    );
    assert!(err.message().contains(&c.access_key_id));
}

#[test]
fn wrong_secret_is_a_signature_mismatch_that_never_shows_the_canonical_request() {
    let c = creds();
    let s = signed_ec2_post(&c, t0(), "us-west-2");
    let mut wrong = c.clone();
    wrong.secret_access_key.push('x');
    let err = check(&s, t0(), &wrong).unwrap_err();
    assert_eq!(err.ec2_code(), "SignatureDoesNotMatch");
    assert_eq!(err.ec2_status(), 403);
    // Neither the client nor the log sees the canonical request (it carries every signed
    // header's value, a session token included) or the signature.
    for text in [err.to_string(), err.message(), err.log_reason()] {
        assert!(!text.contains("aws4_request"), "{text}");
        assert!(!text.contains("x-amz-date:"), "{text}");
        assert!(!text.contains('\n'), "{text}");
    }
    assert_eq!(err.log_reason(), "signature mismatch");
}

#[test]
fn missing_authorization_is_missing_authentication_token() {
    let headers = vec![("Host".to_owned(), "x".to_owned())];
    let req = HttpRequest {
        method: "POST",
        path: "/",
        query: "",
        headers: &headers,
        body: b"",
    };
    let err = verify(&req, t0(), &VerifyConfig::new("us-west-2", "ec2"), |_| None).unwrap_err();
    assert_eq!(err, AuthError::Missing);
    assert_eq!(err.ec2_code(), "MissingAuthenticationToken");
    assert_eq!(err.eks_error_type(), "MissingAuthenticationTokenException");
    assert!(
        err.message()
            .starts_with("Request is missing Authentication Token")
    );
}

#[test]
fn malformed_authorization_is_incomplete_signature() {
    let cases = [
        (
            "AWS4-HMAC-SHA256 SignedHeaders=host;x-amz-date, Signature=00",
            "'Credential'",
        ),
        (
            "AWS4-HMAC-SHA256 Credential=AKID/20231114/us-west-2/ec2/aws4_request, Signature=00",
            "'SignedHeaders'",
        ),
        (
            "AWS4-HMAC-SHA256 Credential=AKID/20231114/us-west-2/ec2/aws4_request, SignedHeaders=host",
            "'Signature'",
        ),
        (
            "AWS4-HMAC-SHA256 Credential=AKID/20231114/us-west-2/ec2, SignedHeaders=host, Signature=00",
            "aws4_request",
        ),
        (
            "AWS4-HMAC-SHA256 Credential=AKID/20231114/us-west-2/ec2/aws4_request, SignedHeaders=x-amz-date, Signature=00",
            "'Host'",
        ),
        ("AWS3 Credential=x", "Unsupported"),
    ];
    for (auth, needle) in cases {
        let headers = vec![
            ("Host".to_owned(), "x".to_owned()),
            ("X-Amz-Date".to_owned(), "20231114T221320Z".to_owned()),
            ("Authorization".to_owned(), auth.to_owned()),
        ];
        let req = HttpRequest {
            method: "POST",
            path: "/",
            query: "",
            headers: &headers,
            body: b"",
        };
        let err = verify(&req, t0(), &VerifyConfig::new("us-west-2", "ec2"), |_| None).unwrap_err();
        assert_eq!(err.ec2_code(), "IncompleteSignature", "{auth}: {err}");
        assert_eq!(err.eks_error_type(), "IncompleteSignatureException");
        assert!(err.message().contains(needle), "{auth}: {}", err.message());
    }
}

#[test]
fn missing_date_header_is_incomplete_signature() {
    let c = creds();
    let mut s = signed_ec2_post(&c, t0(), "us-west-2");
    s.headers.retain(|(n, _)| n != "X-Amz-Date");
    let err = check(&s, t0(), &c).unwrap_err();
    assert_eq!(err.ec2_code(), "IncompleteSignature");
    assert!(err.message().contains("X-Amz-Date"));
}

#[test]
fn sign_requires_a_host_header() {
    let req = HttpRequest {
        method: "GET",
        path: "/",
        query: "",
        headers: &[],
        body: b"",
    };
    let params = SigningParams {
        region: "us-east-1",
        service: "ec2",
        time: t0(),
        content_sha256_header: false,
    };
    assert_eq!(
        sign(&req, &creds(), &params),
        Err(sigv4::SignError::MissingHost)
    );
}
