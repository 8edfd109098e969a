//! The client against a tiny EC2 stand-in on 127.0.0.1 (port 0): each request must be a form
//! POST correctly signed for `ec2` (checked with the `sigv4` verifier, as the region server
//! does), and gets a canned reply. Covers parsing, error mapping, retries and timeouts.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use ec2_client::{Credentials, Ec2Client, Ec2Error, Filter, RetryPolicy};
use sigv4::{HttpRequest, VerifiedIdentity, VerifyConfig};

const REGION: &str = "us-west-2";
const AKID: &str = "AKIASIXFOLDTEST00001";
const SECRET: &str = "sixfold/test/secret/0123456789abcdefghij";

/// A request as the stand-in saw it, with the verdict of the SigV4 check.
struct Seen {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: String,
    auth: Result<VerifiedIdentity, sigv4::AuthError>,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn form(&self) -> Vec<(String, String)> {
        form_urlencoded::parse(self.body.as_bytes())
            .into_owned()
            .collect()
    }
}

/// Starts the stand-in; it answers one connection per canned `(status, body)` reply, or the
/// EC2 auth error when the signature does not verify.
fn serve(replies: Vec<(u16, String)>) -> (String, mpsc::Receiver<Seen>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let base = format!("http://{}", listener.local_addr().expect("local addr"));
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for (status, body) in replies {
            let Ok((stream, _)) = listener.accept() else {
                return;
            };
            let Some(seen) = read_request(&stream) else {
                return;
            };
            let (status, body) = match &seen.auth {
                Ok(_) => (status, body),
                Err(e) => (e.ec2_status(), error_xml(e.ec2_code(), &e.message())),
            };
            respond(stream, status, &body);
            if tx.send(seen).is_err() {
                return;
            }
        }
    });
    (base, rx)
}

fn read_request(stream: &TcpStream) -> Option<Seen> {
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_owned();
    let target = parts.next()?.to_owned();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        reader.read_line(&mut h).ok()?;
        let h = h.trim_end_matches(['\r', '\n']);
        if h.is_empty() {
            break;
        }
        let (n, v) = h.split_once(':')?;
        headers.push((n.trim().to_owned(), v.trim().to_owned()));
    }
    let len: usize = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; len];
    reader.read_exact(&mut body).ok()?;
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let request = HttpRequest {
        method: &method,
        path,
        query,
        headers: &headers,
        body: &body,
    };
    let auth = sigv4::verify(
        &request,
        SystemTime::now(),
        &VerifyConfig::new(REGION, "ec2"),
        |k| (k == AKID).then(|| SECRET.to_owned()),
    );
    Some(Seen {
        method,
        path: path.to_owned(),
        headers,
        body: String::from_utf8(body).ok()?,
        auth,
    })
}

fn respond(mut stream: TcpStream, status: u16, body: &str) {
    let reply = format!(
        "HTTP/1.1 {status} X\r\nContent-Type: text/xml;charset=UTF-8\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(reply.as_bytes());
}

fn error_xml(code: &str, message: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>{code}</Code>\
         <Message>{message}</Message></Error></Errors><RequestID>req-{code}</RequestID></Response>"
    )
}

fn ok(body: &str) -> (u16, String) {
    (200, body.to_owned())
}

fn client(base: &str) -> Ec2Client {
    Ec2Client::new(REGION, Some(base), Credentials::new(AKID, SECRET))
        .expect("client")
        .with_timeout(Duration::from_secs(5))
}

/// Retries fast enough for tests.
fn quick_retry() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 5,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(50),
        budget: Duration::from_secs(3),
    }
}

const ENIS: &str = include_str!("fixtures/describe_network_interfaces.xml");
const INSTANCES: &str = include_str!("fixtures/describe_instances.xml");
const PREFIX: &str = include_str!("fixtures/assign_ipv6_prefix.xml");
const UNAUTHORIZED: &str = include_str!("fixtures/error_unauthorized.xml");

#[test]
fn describe_network_interfaces_sends_a_signed_form_post_and_parses_the_reply() {
    let (base, seen) = serve(vec![ok(ENIS)]);
    let enis = client(&base)
        .describe_network_interfaces(&[Filter::attachment_instance_id("i-0123456789abcdef0")])
        .expect("describe");
    assert_eq!(enis.len(), 2);
    assert_eq!(
        enis[0].ipv6_prefixes[0].to_string(),
        "2001:db8:1234:1a00:5e3f::/80"
    );

    let req = seen
        .recv_timeout(Duration::from_secs(5))
        .expect("request seen");
    let id = req.auth.as_ref().expect("signature verifies");
    assert_eq!(id.access_key_id, AKID);
    assert_eq!(id.region, REGION);
    assert_eq!(id.service, "ec2");
    assert_eq!(req.method, "POST");
    assert_eq!(req.path, "/");
    assert_eq!(
        req.header("content-type"),
        Some("application/x-www-form-urlencoded; charset=utf-8")
    );
    assert_eq!(req.header("host"), Some(base.trim_start_matches("http://")));
    assert_eq!(
        req.form(),
        [
            ("Action".to_owned(), "DescribeNetworkInterfaces".to_owned()),
            ("Version".to_owned(), "2016-11-15".to_owned()),
            (
                "Filter.1.Name".to_owned(),
                "attachment.instance-id".to_owned()
            ),
            (
                "Filter.1.Value.1".to_owned(),
                "i-0123456789abcdef0".to_owned()
            ),
        ]
    );
}

#[test]
fn describe_instances_names_each_instance_id() {
    let (base, seen) = serve(vec![ok(INSTANCES)]);
    let instances = client(&base)
        .describe_instances(&["i-0123456789abcdef0"])
        .expect("describe");
    assert_eq!(instances[0].instance_type.as_deref(), Some("m5.large"));
    let req = seen
        .recv_timeout(Duration::from_secs(5))
        .expect("request seen");
    assert!(req.auth.is_ok());
    assert!(
        req.form()
            .contains(&("InstanceId.1".into(), "i-0123456789abcdef0".into()))
    );
}

#[test]
fn assign_ipv6_prefix_asks_for_one_prefix() {
    let (base, seen) = serve(vec![ok(PREFIX)]);
    let r = client(&base)
        .assign_ipv6_prefix("eni-0f7db2c6b5e1a0c11", 1)
        .expect("assign");
    assert_eq!(r.prefixes[0].to_string(), "2001:db8:1234:1a00:5e3f::/80");
    let req = seen
        .recv_timeout(Duration::from_secs(5))
        .expect("request seen");
    assert!(req.auth.is_ok());
    let form = req.form();
    assert!(form.contains(&("Action".into(), "AssignIpv6Addresses".into())));
    assert!(form.contains(&("NetworkInterfaceId".into(), "eni-0f7db2c6b5e1a0c11".into())));
    assert!(form.contains(&("Ipv6PrefixCount".into(), "1".into())));
}

#[test]
fn pagination_follows_next_token() {
    let page1 = "<DescribeNetworkInterfacesResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\">\
                 <requestId>r1</requestId><networkInterfaceSet><item>\
                 <networkInterfaceId>eni-1</networkInterfaceId></item></networkInterfaceSet>\
                 <nextToken>tok/2+</nextToken></DescribeNetworkInterfacesResponse>";
    let (base, seen) = serve(vec![ok(page1), ok(ENIS)]);
    let enis = client(&base)
        .describe_network_interfaces(&[Filter::network_interface_id("eni-1")])
        .expect("describe");
    assert_eq!(enis.len(), 3);
    let _first = seen.recv_timeout(Duration::from_secs(5)).expect("first");
    let second = seen.recv_timeout(Duration::from_secs(5)).expect("second");
    assert!(second.auth.is_ok());
    assert!(
        second
            .form()
            .contains(&("NextToken".into(), "tok/2+".into()))
    );
}

#[test]
fn api_errors_are_typed_and_not_retried() {
    let (base, seen) = serve(vec![(403, UNAUTHORIZED.to_owned()), ok(PREFIX)]);
    let err = client(&base)
        .with_retry(quick_retry())
        .assign_ipv6_prefix("eni-0f7db2c6b5e1a0c11", 1)
        .unwrap_err();
    match &err {
        Ec2Error::Api {
            code,
            status,
            request_id,
            ..
        } => {
            assert_eq!(code, "UnauthorizedOperation");
            assert_eq!(*status, 403);
            assert_eq!(request_id, "7a62c49f-347e-4fc4-9331-6e8eEXAMPLE");
        }
        other => panic!("expected Api error, got {other:?}"),
    }
    assert!(seen.recv_timeout(Duration::from_secs(5)).is_ok());
    assert!(
        seen.recv_timeout(Duration::from_millis(300)).is_err(),
        "a 403 must not be retried"
    );
}

#[test]
fn not_found_is_its_own_variant() {
    let body = error_xml(
        "InvalidNetworkInterfaceID.NotFound",
        "The networkInterface ID 'eni-0000' does not exist",
    );
    let (base, _seen) = serve(vec![(400, body)]);
    let err = client(&base)
        .describe_network_interfaces(&[Filter::network_interface_id("eni-0000")])
        .unwrap_err();
    assert!(matches!(err, Ec2Error::NotFound { .. }), "{err:?}");
}

#[test]
fn throttling_and_server_errors_are_retried_with_backoff() {
    let (base, seen) = serve(vec![
        (503, error_xml("Unavailable", "The service is unavailable.")),
        (
            400,
            error_xml("RequestLimitExceeded", "Request limit exceeded."),
        ),
        ok(PREFIX),
    ]);
    let r = client(&base)
        .with_retry(quick_retry())
        .assign_ipv6_prefix("eni-0f7db2c6b5e1a0c11", 1)
        .expect("third attempt succeeds");
    assert_eq!(r.prefixes.len(), 1);
    for _ in 0..3 {
        let req = seen.recv_timeout(Duration::from_secs(5)).expect("attempt");
        // Every attempt is signed afresh and verifies.
        assert!(req.auth.is_ok());
    }
}

#[test]
fn retries_stop_after_five_attempts() {
    let busy = (503, error_xml("Unavailable", "The service is unavailable."));
    let (base, seen) = serve(vec![busy; 6]);
    let err = client(&base)
        .with_retry(quick_retry())
        .describe_instances(&["i-1"])
        .unwrap_err();
    assert_eq!(err.code(), Some("Unavailable"));
    for _ in 0..5 {
        seen.recv_timeout(Duration::from_secs(5)).expect("attempt");
    }
    assert!(
        seen.recv_timeout(Duration::from_millis(300)).is_err(),
        "a 6th attempt was made"
    );
}

#[test]
fn wrong_secret_is_rejected_by_the_verifier_as_signature_does_not_match() {
    let (base, seen) = serve(vec![ok(ENIS)]);
    let err = Ec2Client::new(
        REGION,
        Some(&base),
        Credentials::new(AKID, "not-the-secret"),
    )
    .expect("client")
    .describe_network_interfaces(&[])
    .unwrap_err();
    assert_eq!(err.code(), Some("SignatureDoesNotMatch"), "{err}");
    assert!(
        seen.recv_timeout(Duration::from_secs(5))
            .expect("seen")
            .auth
            .is_err()
    );
}

#[test]
fn wrong_region_is_rejected_naming_both_regions() {
    let (base, _seen) = serve(vec![ok(ENIS)]);
    let err = Ec2Client::new("eu-west-1", Some(&base), Credentials::new(AKID, SECRET))
        .expect("client")
        .describe_network_interfaces(&[])
        .unwrap_err();
    assert_eq!(err.code(), Some("AuthFailure"), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("eu-west-1") && text.contains(REGION),
        "{text}"
    );
}

#[test]
fn unreachable_endpoint_is_a_transport_error_within_the_budget() {
    // Bind and drop to get a port nothing listens on.
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let start = Instant::now();
    let err = client(&format!("http://127.0.0.1:{port}"))
        .with_retry(RetryPolicy {
            budget: Duration::from_secs(1),
            ..quick_retry()
        })
        .describe_instances(&["i-1"])
        .unwrap_err();
    assert!(matches!(err, Ec2Error::Transport { .. }), "{err:?}");
    assert!(err.to_string().contains(&port.to_string()), "{err}");
    assert!(start.elapsed() < Duration::from_secs(3));
}

#[test]
fn a_silent_server_times_out() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    // Accept connections and never answer.
    thread::spawn(move || {
        let mut held = Vec::new();
        while let Ok((s, _)) = listener.accept() {
            held.push(s);
        }
    });
    let start = Instant::now();
    let err = client(&base)
        .with_timeout(Duration::from_millis(300))
        .with_retry(RetryPolicy {
            max_attempts: 2,
            ..quick_retry()
        })
        .describe_instances(&["i-1"])
        .unwrap_err();
    assert!(matches!(err, Ec2Error::Transport { .. }), "{err:?}");
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "{:?}",
        start.elapsed()
    );
}
