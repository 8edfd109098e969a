//! In-process region for the wire tests: `region_api::serve` over a `MemStore` region on a free
//! loopback port (its own tokio runtime on a background thread), and a client that signs
//! requests with the region's key. The runtime stops when the `Region` is dropped.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use region::store::MemStore;
use region::{Region, RegionConfig};
use region_api::App;

pub const REGION: &str = "us-east-1";

/// A running in-process region.
pub struct Server {
    pub addr: SocketAddr,
    pub credentials: sigv4::Credentials,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    agent: ureq::Agent,
}

/// An answer: status, headers of interest, body.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub content_type: String,
    pub error_type: Option<String>,
    pub body: String,
}

impl Server {
    pub fn start() -> Self {
        Self::start_with(region_api::ServeLimits::default())
    }

    /// Start with the listener bounds `limits`.
    pub fn start_with(limits: region_api::ServeLimits) -> Self {
        let credentials = sigv4::Credentials::new(
            "AKIAWIRETESTWIRETEST",
            "wire-test-secret-0123456789abcdefghijklmn",
        );
        let region = Region::open(
            RegionConfig {
                name: REGION.into(),
                account_id: "123456789012".into(),
            },
            Box::new(MemStore::default()),
            Box::new(<rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(7)),
            Box::new(|| {
                SystemTime::now()
                    .duration_since(SystemTime::UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or(0)
            }),
        )
        .expect("open a MemStore region");
        let app = Arc::new(App::new(region, credentials.clone()));
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                    .await
                    .expect("bind");
                let _ = addr_tx.send(listener.local_addr().expect("addr"));
                let _ = region_api::serve_with(
                    listener,
                    app,
                    async {
                        let _ = stopped.await;
                    },
                    limits,
                )
                .await;
            });
            rt.shutdown_timeout(Duration::from_secs(2));
        });
        let addr = addr_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("the region listens");
        Self {
            addr,
            credentials,
            stop: Some(stop),
            thread: Some(thread),
            agent: ureq::AgentBuilder::new()
                .timeout(Duration::from_secs(20))
                .build(),
        }
    }

    /// POST a form body to `/`, signed for `service` (`ec2` or `iam`) unless `signed` is false.
    pub fn query(&self, service: &str, body: &[u8]) -> Answer {
        self.send("POST", "/", "", body, Some(service), &[])
    }

    /// An EC2 Query request from `key=value` pairs (values are form-encoded here).
    pub fn ec2(&self, pairs: &[(&str, &str)]) -> Answer {
        let mut s = form_urlencoded::Serializer::new(String::new());
        s.append_pair("Version", "2016-11-15");
        for (k, v) in pairs {
            s.append_pair(k, v);
        }
        self.query("ec2", s.finish().as_bytes())
    }

    /// A signed rest-json EKS request.
    pub fn eks(&self, method: &str, path: &str, body: &[u8]) -> Answer {
        self.send(
            method,
            path,
            "",
            body,
            Some("eks"),
            &[("Content-Type", "application/json")],
        )
    }

    /// Send one request; `service` None sends it unsigned. `extra` headers are sent (and signed).
    pub fn send(
        &self,
        method: &str,
        path: &str,
        query: &str,
        body: &[u8],
        service: Option<&str>,
        extra: &[(&str, &str)],
    ) -> Answer {
        let mut headers: Vec<(String, String)> = vec![("Host".into(), self.addr.to_string())];
        if !extra
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
        {
            headers.push((
                "Content-Type".into(),
                "application/x-www-form-urlencoded; charset=utf-8".into(),
            ));
        }
        headers.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        if let Some(service) = service {
            let req = sigv4::HttpRequest {
                method,
                path,
                query,
                headers: &headers,
                body,
            };
            let params = sigv4::SigningParams {
                region: REGION,
                service,
                time: SystemTime::now(),
                content_sha256_header: false,
            };
            headers.extend(sigv4::sign(&req, &self.credentials, &params).expect("sign"));
        }
        let url = if query.is_empty() {
            format!("http://{}{path}", self.addr)
        } else {
            format!("http://{}{path}?{query}", self.addr)
        };
        let mut r = self.agent.request(method, &url);
        for (k, v) in &headers {
            if !k.eq_ignore_ascii_case("host") {
                r = r.set(k, v);
            }
        }
        let resp = match r.send_bytes(body) {
            Ok(resp) => resp,
            Err(ureq::Error::Status(_, resp)) => resp,
            Err(e) => panic!("transport error for {method} {path}: {e}"),
        };
        Answer {
            status: resp.status(),
            content_type: resp.header("content-type").unwrap_or("").to_string(),
            error_type: resp.header("x-amzn-errortype").map(str::to_string),
            body: resp.into_string().expect("a UTF-8 body"),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Answer {
    /// The EC2/IAM `<Code>` of an error answer.
    pub fn code(&self) -> String {
        let root = ec2_client::xml::parse(&self.body).expect("well-formed XML");
        fn find(e: &ec2_client::xml::Element) -> Option<String> {
            if e.name == "Code" {
                return Some(e.text.trim().to_string());
            }
            e.children.iter().find_map(find)
        }
        find(&root).unwrap_or_default()
    }

    /// Panic unless the body is well-formed: XML 1.0 characters only and parseable (EC2/IAM),
    /// or a JSON document (EKS).
    pub fn assert_well_formed(&self, what: &str) {
        if self.content_type.contains("json") {
            if let Err(e) = serde_json::from_str::<serde_json::Value>(&self.body) {
                panic!("{what}: not JSON ({e}): {}", self.body);
            }
            return;
        }
        if let Some(c) = self.body.chars().find(|c| !region_api::xml::xml_char(*c)) {
            panic!(
                "{what}: character U+{:04X} is not allowed in XML 1.0: {:?}",
                c as u32, self.body
            );
        }
        if let Err(e) = ec2_client::xml::parse(&self.body) {
            panic!("{what}: malformed XML ({e}): {}", self.body);
        }
    }
}
