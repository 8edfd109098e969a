//! The agent while EC2 refuses the prefix call (the role lacks the IPv6 policy): it reports the
//! refusal in `/v1/status`, the metrics and the answers to pod adds (CNI 11, naming the action,
//! the role and the fix), retries by itself, and serves pods once the refusal is lifted — in
//! the same process, no restart. The refusal is a real `UnauthorizedOperation` reply parsed by
//! `ec2_client`; the EC2 wire end to end is in the lab's root test.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, Instant};

use agent::prefix::PrefixError;
use agent::{AgentConfig, ConflistOnly, ConflistSettings, NodeFacts, PrefixSource};
use agent_api::{AttachmentKey, ClientError, ErrorKind, Request, Response, call};

const T: Duration = Duration::from_secs(10);

fn facts() -> NodeFacts {
    NodeFacts {
        prefix: "2001:db8:0:1:abcd::/80".parse().unwrap(),
        node_ipv4: "10.0.1.7".parse().unwrap(),
        node_ipv6: None,
        eni_id: Some("eni-0abc".into()),
    }
}

/// Refuses with EC2's own `UnauthorizedOperation` document until `granted`.
struct Refusing {
    granted: Arc<AtomicBool>,
    calls: Arc<AtomicU32>,
}

const REFUSAL: &str = "<Response><Errors><Error><Code>UnauthorizedOperation</Code><Message>You \
    are not authorized to perform this operation. User: arn:aws:sts::123456789012:assumed-role/\
    cni-no-v6/node-1 is not authorized to perform: ec2:AssignIpv6Addresses</Message></Error>\
    </Errors><RequestID>r-1</RequestID></Response>";

impl PrefixSource for Refusing {
    fn acquire(&self, _: Option<&NodeFacts>) -> Result<NodeFacts, PrefixError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if self.granted.load(Ordering::SeqCst) {
            return Ok(facts());
        }
        // A real reply through the real parser.
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let server = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut buf = [0u8; 8192];
            let _ = s.read(&mut buf);
            let _ = write!(
                s,
                "HTTP/1.1 403 Forbidden\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{REFUSAL}",
                REFUSAL.len()
            );
        });
        let client = ec2_client::Ec2Client::new(
            "us-east-1",
            Some(&url),
            ec2_client::Credentials::new("ASIAEXAMPLE", "s").with_session_token("t"),
        )
        .unwrap();
        let err = client.assign_ipv6_prefix("eni-0abc", 1).unwrap_err();
        server.join().unwrap();
        Err(PrefixError::Ec2 {
            op: "AssignIpv6Addresses",
            instance_id: "i-0test".into(),
            source: Box::new(err),
        })
    }

    fn identity(&self) -> Option<String> {
        Some("role arn:aws:iam::123456789012:role/cni-no-v6".into())
    }
}

fn get(addr: &str, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(T)).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let status = text[9..12].parse().unwrap();
    let body = text.split_once("\r\n\r\n").unwrap().1.to_owned();
    (status, body)
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn add(sock: &Path) -> Result<Response, ClientError> {
    let req = Request::Add {
        key: AttachmentKey {
            network: "sixfold".into(),
            container_id: "c1".into(),
            ifname: "eth0".into(),
        },
        netns: None,
    };
    call(sock, &req, T)
}

#[test]
fn a_refused_prefix_is_reported_and_recovered_without_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = AgentConfig::new("i-0test");
    c.data_dir = dir.path().join("data");
    c.socket = dir.path().join("agent.sock");
    c.cni_conf_dir = dir.path().join("net.d");
    let metrics = format!("127.0.0.1:{}", free_port());
    c.metrics_addr = metrics.parse().unwrap();
    let granted = Arc::new(AtomicBool::new(false));
    let calls = Arc::new(AtomicU32::new(0));
    let source = Refusing {
        granted: granted.clone(),
        calls: calls.clone(),
    };
    let cfg = c.clone();
    let starter = std::thread::spawn(move || {
        agent::start(
            &cfg,
            &source,
            &ConflistOnly(ConflistSettings::from_config(&cfg)),
        )
    });

    // Wait for the second refusal: the agent keeps trying by itself.
    let deadline = Instant::now() + Duration::from_secs(20);
    while calls.load(Ordering::SeqCst) < 2 {
        assert!(Instant::now() < deadline, "the agent did not retry");
        std::thread::sleep(Duration::from_millis(50));
    }
    let (status, body) = get(&metrics, "/v1/status");
    assert_eq!(status, 503, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["ready"], false);
    assert_eq!(v["blocked"]["code"], "UnauthorizedOperation", "{v}");
    assert_eq!(v["blocked"]["action"], "AssignIpv6Addresses", "{v}");
    assert!(
        v["blocked"]["identity"]
            .as_str()
            .unwrap()
            .contains("cni-no-v6"),
        "{v}"
    );
    assert!(
        v["blocked"]["fix"]
            .as_str()
            .unwrap()
            .contains("IPv6 CNI policy"),
        "{v}"
    );
    assert!(v["blocked"]["attempts"].as_u64().unwrap() >= 1, "{v}");
    let (_, m) = get(&metrics, "/metrics");
    assert!(m.contains("sixfold_agent_prefix_blocked 1"), "{m}");
    assert!(!m.contains("sixfold_agent_prefix_denials_total 0"), "{m}");

    // A pod add now: not_ready (CNI 11) with the cause and the fix.
    match add(&c.socket) {
        Err(ClientError::Agent {
            kind: ErrorKind::NotReady,
            message,
        }) => {
            for part in [
                "AssignIpv6Addresses",
                "UnauthorizedOperation",
                "cni-no-v6",
                "IPv6 CNI policy",
            ] {
                assert!(message.contains(part), "{part} missing from {message}");
            }
        }
        other => panic!("{other:?}"),
    }

    // The policy is attached: the agent gets its prefix within its capped back-off.
    let granted_at = Instant::now();
    granted.store(true, Ordering::SeqCst);
    let agent = starter.join().unwrap().unwrap();
    assert!(
        granted_at.elapsed() < Duration::from_secs(10),
        "{:?}",
        granted_at.elapsed()
    );
    assert!(matches!(add(agent.socket()), Ok(Response::Added { .. })));
    let (status, body) = get(&metrics, "/v1/status");
    assert_eq!(status, 200, "{body}");
    let (_, m) = get(&metrics, "/metrics");
    assert!(m.contains("sixfold_agent_prefix_blocked 0"), "{m}");
    agent.shutdown();
}
