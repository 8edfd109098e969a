//! The EC2 prefix source against a fake EC2 Query endpoint (a tiny HTTP server on port 0 that
//! answers canned XML and records the actions it was asked for).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use agent::ec2::Ec2PrefixSource;
use agent::prefix::PrefixError;
use agent::{NodeFacts, PrefixSource};
use ec2_client::{Credentials, Ec2Client, RetryPolicy};

/// The fake's state: the primary ENI's /80s, and the actions seen.
#[derive(Default)]
struct Fake {
    prefixes: Vec<String>,
    actions: Vec<String>,
}

fn eni_xml(id: &str, index: u32, ipv4: &str, prefixes: &[String]) -> String {
    let items: String = prefixes
        .iter()
        .map(|p| format!("<item><ipv6Prefix>{p}</ipv6Prefix></item>"))
        .collect();
    format!(
        "<item><networkInterfaceId>{id}</networkInterfaceId><privateIpAddress>{ipv4}</privateIpAddress>\
         <ipv6AddressesSet><item><ipv6Address>2001:db8:1:1::{index}a</ipv6Address></item></ipv6AddressesSet>\
         <ipv6PrefixSet>{items}</ipv6PrefixSet>\
         <attachment><instanceId>i-0fake</instanceId><deviceIndex>{index}</deviceIndex></attachment></item>"
    )
}

fn serve(fake: Arc<Mutex<Fake>>) -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    std::thread::spawn(move || {
        for conn in l.incoming() {
            let Ok(mut s) = conn else { return };
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let mut r = BufReader::new(s.try_clone().unwrap());
            let mut len = 0usize;
            loop {
                let mut line = String::new();
                if r.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap();
                }
            }
            let mut body = vec![0; len];
            r.read_exact(&mut body).unwrap();
            let body = String::from_utf8(body).unwrap();
            let action = body
                .split('&')
                .find_map(|kv| kv.strip_prefix("Action="))
                .unwrap_or("")
                .to_owned();
            let mut f = fake.lock().unwrap();
            f.actions.push(action.clone());
            let xml = match action.as_str() {
                "DescribeNetworkInterfaces" => format!(
                    "<DescribeNetworkInterfacesResponse><requestId>r</requestId><networkInterfaceSet>{}{}</networkInterfaceSet></DescribeNetworkInterfacesResponse>",
                    eni_xml("eni-0second", 1, "10.0.1.99", &["2001:db8:1:1:9::/80".to_owned()]),
                    eni_xml("eni-0primary", 0, "10.0.1.17", &f.prefixes),
                ),
                "AssignIpv6Addresses" => {
                    assert!(body.contains("Ipv6PrefixCount=1"), "{body}");
                    assert!(body.contains("NetworkInterfaceId=eni-0primary"), "{body}");
                    f.prefixes.push("2001:db8:1:1:5::/80".into());
                    "<AssignIpv6AddressesResponse><requestId>r</requestId><networkInterfaceId>eni-0primary</networkInterfaceId>\
                     <assignedIpv6PrefixSet><item>2001:db8:1:1:5::/80</item></assignedIpv6PrefixSet></AssignIpv6AddressesResponse>"
                        .to_owned()
                }
                _ => "<Response><Errors><Error><Code>InvalidAction</Code><Message>no</Message></Error></Errors><RequestID>r</RequestID></Response>".to_owned(),
            };
            let status = if xml.starts_with("<Response>") {
                "400 Bad Request"
            } else {
                "200 OK"
            };
            let _ = write!(
                s,
                "HTTP/1.1 {status}\r\nContent-Type: text/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{xml}",
                xml.len()
            );
        }
    });
    url
}

fn source(url: &str) -> Ec2PrefixSource {
    let client = Ec2Client::new(
        "us-east-1",
        Some(url),
        Credentials::new("AKIDEXAMPLE", "secret"),
    )
    .unwrap()
    .with_retry(RetryPolicy {
        max_attempts: 1,
        ..RetryPolicy::default()
    });
    Ec2PrefixSource::new(client, "i-0fake")
}

#[test]
fn assigns_a_prefix_once_then_reuses_it() {
    let fake = Arc::new(Mutex::new(Fake::default()));
    let src = source(&serve(fake.clone()));
    let first = src.acquire(None).unwrap();
    assert_eq!(first.prefix.to_string(), "2001:db8:1:1:5::/80");
    assert_eq!(
        first.node_ipv4.to_string(),
        "10.0.1.17",
        "primary ENI's IPv4, not the secondary's"
    );
    assert_eq!(first.eni_id.as_deref(), Some("eni-0primary"));
    assert_eq!(
        first.node_ipv6.map(|a| a.to_string()).as_deref(),
        Some("2001:db8:1:1::a")
    );
    assert_eq!(
        fake.lock().unwrap().actions,
        ["DescribeNetworkInterfaces", "AssignIpv6Addresses"]
    );

    // A restart (recorded or not) reuses the ENI's /80 without assigning another.
    assert_eq!(src.acquire(Some(&first)).unwrap(), first);
    assert_eq!(src.acquire(None).unwrap(), first);
    let actions = fake.lock().unwrap().actions.clone();
    assert_eq!(
        actions
            .iter()
            .filter(|a| *a == "AssignIpv6Addresses")
            .count(),
        1,
        "{actions:?}"
    );
}

#[test]
fn a_recorded_prefix_the_eni_lost_is_an_error() {
    let fake = Arc::new(Mutex::new(Fake {
        prefixes: vec!["2001:db8:1:1:7::/80".into()],
        ..Fake::default()
    }));
    let src = source(&serve(fake));
    let recorded = NodeFacts {
        prefix: "2001:db8:1:1:5::/80".parse().unwrap(),
        node_ipv4: "10.0.1.17".parse().unwrap(),
        node_ipv6: None,
        eni_id: None,
    };
    let err = src.acquire(Some(&recorded)).unwrap_err();
    assert!(
        matches!(err, PrefixError::RecordedPrefixGone { .. }),
        "{err}"
    );
}

#[test]
fn an_unreachable_endpoint_is_retryable_and_names_the_instance() {
    // Bind then drop: nothing listens on this port.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let err = source(&format!("http://127.0.0.1:{port}"))
        .acquire(None)
        .unwrap_err();
    assert!(err.retryable(), "{err}");
    assert!(err.to_string().contains("i-0fake"), "{err}");
}
