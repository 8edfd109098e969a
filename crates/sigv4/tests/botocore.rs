//! Requests signed by real botocore (the library under the AWS CLI) must verify.
//!
//! `botocore_capture.py` builds real botocore clients (EC2 Query, EKS rest-json with a session
//! token and a path that needs encoding) and a presigned URL at a fixed time, captures each
//! request just before it would be sent and prints it. This test needs `python3` with
//! `botocore`; without them it fails, it does not skip.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use sigv4::{AuthError, HttpRequest, VerifyConfig, verify};

const SCRIPT: &str = include_str!("botocore_capture.py");
const AKID: &str = "AKIAIOSFODNN7EXAMPLE";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

/// The instant the script pins botocore's clock to: 2023-11-14T22:13:20Z.
fn signed_at() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_700_000_000)
}

struct Captured {
    method: String,
    path: String,
    query: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Captured {
    fn request(&self) -> HttpRequest<'_> {
        HttpRequest {
            method: &self.method,
            path: &self.path,
            query: &self.query,
            headers: &self.headers,
            body: &self.body,
        }
    }
}

/// Runs the capture script for `case`, killing it after 60 s.
fn botocore(case: &str, token: &str) -> Captured {
    let mut child = Command::new("python3")
        .arg("-c")
        .arg(SCRIPT)
        .arg(case)
        .arg(token)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot run python3 ({e}): this test needs python3 with botocore (pip install botocore)")
        });
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for python3") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("python3 botocore capture for {case:?} did not finish within 60 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut out = String::new();
    let mut err = String::new();
    child
        .stdout
        .take()
        .expect("stdout")
        .read_to_string(&mut out)
        .expect("read stdout");
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut err)
        .expect("read stderr");
    assert!(
        status.success(),
        "python3 botocore capture for {case:?} failed ({status}); is botocore installed \
         (python3 -c 'import botocore')?\n{err}"
    );
    let mut lines = out.lines();
    let mut next = || {
        lines
            .next()
            .unwrap_or_else(|| panic!("short capture output:\n{out}"))
            .to_owned()
    };
    let method = next();
    let path = next();
    let query = next();
    let mut headers = Vec::new();
    loop {
        let line = next();
        if line.is_empty() {
            break;
        }
        let (n, v) = line.split_once('\t').expect("header line");
        headers.push((n.to_owned(), v.to_owned()));
    }
    let body = hex::decode(next()).expect("hex body");
    Captured {
        method,
        path,
        query,
        headers,
        body,
    }
}

fn lookup(akid: &str) -> Option<String> {
    (akid == AKID).then(|| SECRET.to_owned())
}

#[test]
fn botocore_ec2_query_request_verifies() {
    let c = botocore("ec2", "");
    assert_eq!(c.method, "POST");
    assert!(
        String::from_utf8_lossy(&c.body)
            .starts_with("Action=DescribeNetworkInterfaces&Version=2016-11-15")
    );
    let now = signed_at() + Duration::from_secs(30);
    let id = verify(
        &c.request(),
        now,
        &VerifyConfig::new("us-west-2", "ec2"),
        lookup,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(id.access_key_id, AKID);
    assert_eq!(id.region, "us-west-2");
    assert_eq!(id.service, "ec2");
    assert_eq!(id.session_token, None);
}

#[test]
fn botocore_ec2_request_with_changed_body_is_rejected() {
    let mut c = botocore("ec2", "");
    c.body.extend_from_slice(b"&DryRun=true");
    let err = verify(
        &c.request(),
        signed_at(),
        &VerifyConfig::new("us-west-2", "ec2"),
        lookup,
    )
    .unwrap_err();
    assert_eq!(err.ec2_code(), "SignatureDoesNotMatch");
}

#[test]
fn botocore_ec2_request_for_another_region_names_both() {
    let c = botocore("ec2", "");
    let err = verify(
        &c.request(),
        signed_at(),
        &VerifyConfig::new("eu-west-1", "ec2"),
        lookup,
    )
    .unwrap_err();
    assert_eq!(
        err,
        AuthError::WrongRegion {
            got: "us-west-2".into(),
            expected: "eu-west-1".into()
        }
    );
}

#[test]
fn botocore_eks_rest_request_with_encoded_path_and_token_verifies() {
    let c = botocore("eks", "FwoGZXIvYXdzEXAMPLETOKEN//+=");
    assert_eq!(c.path, "/clusters/my%20cluster~1/node-groups");
    let id = verify(
        &c.request(),
        signed_at(),
        &VerifyConfig::new("us-west-2", "eks"),
        lookup,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(id.service, "eks");
    assert_eq!(
        id.session_token.as_deref(),
        Some("FwoGZXIvYXdzEXAMPLETOKEN//+=")
    );
}

#[test]
fn botocore_eks_request_after_five_minutes_has_expired() {
    let c = botocore("eks", "");
    let late = signed_at() + Duration::from_secs(301);
    let err = verify(
        &c.request(),
        late,
        &VerifyConfig::new("us-west-2", "eks"),
        lookup,
    )
    .unwrap_err();
    assert_eq!(err.eks_error_type(), "InvalidSignatureException");
    assert!(
        err.message().starts_with("Signature expired"),
        "{}",
        err.message()
    );
}

#[test]
fn botocore_presigned_url_verifies_until_it_expires() {
    let c = botocore("presign", "");
    assert!(c.query.contains("X-Amz-Signature="));
    let config = VerifyConfig::new("us-west-2", "eks");
    // Valid for its whole 900 s, beyond the 5-minute skew of header signatures.
    verify(
        &c.request(),
        signed_at() + Duration::from_secs(600),
        &config,
        lookup,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let err = verify(
        &c.request(),
        signed_at() + Duration::from_secs(901),
        &config,
        lookup,
    )
    .unwrap_err();
    assert_eq!(err.ec2_code(), "RequestExpired");
    assert!(err.message().contains("expired"), "{}", err.message());
}
