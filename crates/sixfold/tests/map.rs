//! End-to-end tests of `sixfold map` (root): a real lab (`sixfold up`, 2 nodes × 2 pods), its map
//! opened in real headless Chromium. The rendered DOM holds every pod IPv6, node /80, subnet /64
//! and ClusterIP of the lab; a screenshot is decoded and is not blank; and the live page
//! (`--serve`), driven through the DevTools protocol, changes without a reload when the region
//! changes (the node group scaled up with UpdateNodegroupConfig, a route deleted with
//! DeleteRoute). Compactly drawn pods (large plans) still name themselves on hover. Every spawned
//! command has a timeout; the lab is torn down with `sixfold down`
//! even when the test fails.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

mod common;

use common::lab::{LAB_CMD_TIMEOUT, Lab, sixfold};
use common::{Cli, run};

const CHROMIUM: &str = "/usr/bin/chromium";

/// Fail (never skip) without the real browser the map is opened in.
fn require_chromium() {
    assert!(
        Path::new(CHROMIUM).is_file(),
        "{CHROMIUM} is missing: the map tests open the page in a real browser (apt install chromium; scripts/install-deps --tests)"
    );
}

/// The lab the map tests draw: 2 nodes of 2 pods.
fn map_lab() -> Lab {
    require_chromium();
    Lab::up(&["--nodes", "2", "--pods-per-node", "2"])
}

/// Chromium's flags for a quiet, offline, headless run in its own profile.
fn chromium_cmd(profile: &Path) -> Command {
    let mut c = Command::new(CHROMIUM);
    c.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1366,768",
    ])
    .arg(format!("--user-data-dir={}", profile.display()));
    c
}

/// Run chromium once (dump the DOM or take a screenshot); its stdout.
fn chromium_once(profile: &Path, args: &[String], url: &str) -> String {
    let mut c = chromium_cmd(profile);
    c.args(args).arg(url);
    let out = run(c, LAB_CMD_TIMEOUT);
    assert!(out.ok(), "chromium {args:?} failed: {}", out.stderr);
    out.stdout
}

/// The text of a DOM dump (tags dropped, entities left as they are: addresses have none).
fn text_of(html: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                out.push(' ');
            }
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    out
}

/// Every address the map must show for this lab: pod IPv6s, node /80s, subnet /64s, ClusterIPs.
fn lab_addresses(status: &Value) -> Vec<String> {
    let mut want = Vec::new();
    let strs = |v: &Value, key: &str| -> Vec<String> {
        v.as_array()
            .into_iter()
            .flatten()
            .filter_map(|x| x[key].as_str().map(str::to_owned))
            .collect()
    };
    want.extend(strs(&status["pods"], "ipv6"));
    want.extend(strs(&status["nodes"], "prefix"));
    want.extend(strs(&status["vpc"]["subnets"], "ipv6"));
    want.extend(strs(&status["services"], "cluster_ip"));
    assert!(
        want.len() >= 4 + 1 + 2 + 2 + 2,
        "the lab's status lacks addresses: {status}"
    );
    // Addresses as the map prints them (canonical text form).
    want.iter()
        .map(|a| match a.split_once('/') {
            Some((ip, len)) => format!("{}/{len}", ip.parse::<std::net::Ipv6Addr>().unwrap()),
            None => a.parse::<std::net::Ipv6Addr>().unwrap().to_string(),
        })
        .collect()
}

/// Decode a PNG: (width, height, distinct colours, share of pixels that are not white).
fn png_stats(path: &Path) -> (u32, u32, usize, f64) {
    let decoder = png::Decoder::new(std::fs::File::open(path).expect("screenshot exists"));
    let mut reader = decoder.read_info().expect("a PNG");
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).expect("a frame");
    let step = info.color_type.samples();
    let mut colours = std::collections::HashSet::new();
    let mut ink = 0usize;
    let px = &buf[..info.buffer_size()];
    for p in px.chunks(step) {
        let rgb = (p[0], p[1], p.get(2).copied().unwrap_or(p[0]));
        colours.insert(rgb);
        if rgb.0 < 240 || rgb.1 < 240 || rgb.2 < 240 {
            ink += 1;
        }
    }
    let total = (px.len() / step).max(1);
    (
        info.width,
        info.height,
        colours.len(),
        ink as f64 / total as f64,
    )
}

#[test]
fn a_running_lab_is_drawn_in_a_real_browser_and_followed_live() {
    let lab = map_lab();
    let tmp = tempfile::tempdir().unwrap();
    let want = lab_addresses(&lab.status());

    // The file: every address in the DOM Chromium built, and a screenshot that is not blank.
    let file = tmp.path().join("plan.html");
    let Cli {
        code,
        stdout: out,
        stderr: err,
    } = sixfold(
        &[
            "map",
            "--name",
            &lab.name,
            "--output",
            file.to_str().unwrap(),
        ],
        LAB_CMD_TIMEOUT,
    );
    assert_eq!(code, 0, "sixfold map failed:\n{out}\n{err}");
    let url = format!("file://{}", file.display());
    let dom = chromium_once(&tmp.path().join("p1"), &["--dump-dom".into()], &url);
    assert!(dom.contains(r#"id="drawing""#), "the drawing is in the DOM");
    let text = text_of(&dom);
    for a in &want {
        assert!(
            text.contains(a.as_str()),
            "{a} is not in the rendered DOM's text"
        );
    }
    assert!(
        text.contains("paths proven") && dom.contains("✓ ok"),
        "the lab's proven paths are on the map"
    );
    let shot = tmp.path().join("map.png");
    chromium_once(
        &tmp.path().join("p2"),
        &[format!("--screenshot={}", shot.display())],
        &url,
    );
    let (w, h, colours, ink) = png_stats(&shot);
    println!(
        "screenshot {w}×{h}: {colours} colours, {:.1}% ink",
        ink * 100.0
    );
    assert_eq!((w, h), (1366, 768));
    assert!(
        colours >= 16,
        "only {colours} colours: the screenshot is blank"
    );
    assert!(
        ink > 0.05,
        "only {:.2}% non-white: the screenshot is blank",
        ink * 100.0
    );

    live(&lab, tmp.path());
}

/// A process killed on drop.
struct Killed(Child);
impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn live(lab: &Lab, tmp: &Path) {
    let mut server = Killed(
        Command::new(env!("CARGO_BIN_EXE_sixfold"))
            .args(["map", "--name", &lab.name, "--serve", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn sixfold map --serve"),
    );
    let url = served_url(&mut server.0);
    let profile = tmp.join("p3");
    let browser = Killed(
        chromium_cmd(&profile)
            .args(["--remote-debugging-port=0", &url])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn chromium"),
    );
    let mut page = Cdp::connect(&profile);
    wait_for(
        &mut page,
        "document.getElementById('drawing') !== null",
        "the page loads",
    );
    page.eval("window.__notReloaded = 42");
    // Keyboard: focusing a node shows its details in the panel.
    let focused = page.eval(
        "(() => { const n = document.querySelector('[aria-label^=\"node \"]'); n.focus(); \
         return document.activeElement === n && document.getElementById('dt').textContent.includes('delegated prefix'); })()",
    );
    assert_eq!(
        focused,
        json!(true),
        "focusing a node fills the details panel"
    );

    // Scale up the lab's node group by one (EKS UpdateNodegroupConfig): a third node appears.
    let state = lab.lab_state();
    let region = state.region.as_ref().expect("the lab has a region");
    let vpc = state.vpc.as_ref().expect("the lab has a VPC");
    let cluster = state.cluster.as_ref().expect("the lab has a cluster");
    let group = cluster
        .nodegroup
        .as_deref()
        .expect("the lab's nodes are a node group");
    let text = std::fs::read_to_string(&region.credentials).expect("credentials");
    let creds = region_api::credentials::parse(&text, "sixfold").expect("sixfold profile");
    let eks = lab::eks::Eks::new(&region.endpoint, "us-east-1", creds.clone());
    let path = format!("/clusters/{}/node-groups/{group}", cluster.name);
    let ng = eks.call("GET", &path, None).expect("DescribeNodegroup");
    let sc = &ng["nodegroup"]["scalingConfig"];
    let desired = sc["desiredSize"].as_u64().expect("desiredSize") + 1;
    let max = sc["maxSize"].as_u64().unwrap_or(desired).max(desired);
    let min = sc["minSize"].as_u64().unwrap_or(0);
    let nodes = "document.querySelectorAll('#drawing g.node').length";
    let before = page.eval(nodes).as_u64().expect("a node count");
    assert_eq!(before, 2, "the lab's two nodes are drawn");
    eks.call(
        "POST",
        &format!("{path}/update-config"),
        Some(&json!({"scalingConfig": {"minSize": min, "maxSize": max, "desiredSize": desired}})),
    )
    .expect("UpdateNodegroupConfig");
    let start = Instant::now();
    wait_for(
        &mut page,
        &format!("{nodes} === {}", before + 1),
        "the node group's new node appears",
    );
    println!(
        "live: node group scaled to {desired}, drawn {:?} after UpdateNodegroupConfig",
        start.elapsed()
    );
    let ec2 = ec2_client::Ec2Client::new("us-east-1", Some(&region.endpoint), creds).unwrap();
    let p = |k: &str, v: &str| (k.to_owned(), v.to_owned());

    // Delete the IPv6 default route: the egress-only gateway then carries nothing.
    let eigw = &vpc.egress_only_gateway;
    let carries = format!(
        "[...document.querySelectorAll('[aria-label^=\"{eigw} \"]')].some(e => e.getAttribute('aria-label').includes('carries nothing'))"
    );
    assert_eq!(
        page.eval(&carries),
        json!(false),
        "the EIGW carries ::/0 at first"
    );
    ec2.call(
        "DeleteRoute",
        &[
            p("RouteTableId", &vpc.route_table),
            p("DestinationIpv6CidrBlock", "::/0"),
        ],
    )
    .expect("DeleteRoute");
    let start = Instant::now();
    wait_for(&mut page, &carries, "the EIGW shows it carries nothing");
    // ... and the region's health check finds it: the rule is marked on the subnet at fault.
    let marked = format!(
        "[...document.querySelectorAll('[aria-label^=\"subnet {} \"] .mark')].some(m => m.getAttribute('aria-label').includes('SIX-ROUTE-IPV6-DEFAULT') && m.dataset.d.includes('Fix:'))",
        vpc.subnets[0].id
    );
    wait_for(
        &mut page,
        &marked,
        "SIX-ROUTE-IPV6-DEFAULT is marked on the subnet",
    );
    println!(
        "live: route deletion drawn {:?} after DeleteRoute",
        start.elapsed()
    );
    assert_eq!(
        page.eval("window.__notReloaded"),
        json!(42),
        "the page changed without a reload"
    );
    drop(browser);
}

/// The URL `sixfold map --serve` prints; asserts it follows the region's change feed.
fn served_url(child: &mut Child) -> String {
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line.contains("http://") {
                let _ = tx.send(line);
            }
        }
    });
    let line = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("sixfold map --serve printed its URL within 30 s");
    assert!(
        line.contains("following the region's change feed"),
        "the live map follows the region's feed: {line}"
    );
    let i = line.rfind("http://").unwrap_or(0);
    line[i..].split_whitespace().next().unwrap_or("").to_owned()
}

/// Evaluate `expr` until it is `true` (every 100 ms, at most 20 s).
fn wait_for(page: &mut Cdp, expr: &str, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if page.eval(expr) == json!(true) {
            return;
        }
        assert!(Instant::now() < deadline, "within 20 s: {what} ({expr})");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A minimal DevTools-protocol client over a WebSocket (text frames, client-masked).
struct Cdp {
    ws: TcpStream,
    next: u64,
}

impl Cdp {
    /// Connect to the first page of the Chromium whose profile is `profile`.
    fn connect(profile: &Path) -> Cdp {
        let port_file: PathBuf = profile.join("DevToolsActivePort");
        let deadline = Instant::now() + Duration::from_secs(30);
        let port = loop {
            if let Some(p) = std::fs::read_to_string(&port_file)
                .ok()
                .and_then(|t| t.lines().next().and_then(|l| l.trim().parse::<u16>().ok()))
            {
                break p;
            }
            assert!(
                Instant::now() < deadline,
                "chromium wrote no DevToolsActivePort"
            );
            std::thread::sleep(Duration::from_millis(100));
        };
        let ws_url = loop {
            let list: Value = ureq::get(&format!("http://127.0.0.1:{port}/json/list"))
                .timeout(Duration::from_secs(5))
                .call()
                .ok()
                .and_then(|r| r.into_string().ok())
                .and_then(|t| serde_json::from_str(&t).ok())
                .unwrap_or_default();
            let page = list
                .as_array()
                .into_iter()
                .flatten()
                .find(|t| t["type"] == "page")
                .and_then(|t| t["webSocketDebuggerUrl"].as_str().map(str::to_owned));
            if let Some(u) = page {
                break u;
            }
            assert!(Instant::now() < deadline, "chromium lists no page");
            std::thread::sleep(Duration::from_millis(100));
        };
        let rest = ws_url.trim_start_matches("ws://");
        let (host, path) = rest.split_at(rest.find('/').expect("a path"));
        let mut ws = TcpStream::connect(host).expect("connect to the DevTools socket");
        ws.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        write!(
            ws,
            "GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: c2l4Zm9sZC1tYXAtdGVzdA==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        .unwrap();
        let mut head = Vec::new();
        let mut b = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            ws.read_exact(&mut b).expect("the WebSocket handshake");
            head.push(b[0]);
        }
        assert!(
            head.starts_with(b"HTTP/1.1 101"),
            "no WebSocket upgrade: {}",
            String::from_utf8_lossy(&head)
        );
        Cdp { ws, next: 1 }
    }

    fn send(&mut self, text: &str) {
        let data = text.as_bytes();
        let mut frame = vec![0x81u8];
        match data.len() {
            n if n < 126 => frame.push(0x80 | n as u8),
            n if n < 65536 => {
                frame.push(0x80 | 126);
                frame.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                frame.push(0x80 | 127);
                frame.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        let mask = [0x5a, 0x17, 0xc3, 0x2e];
        frame.extend_from_slice(&mask);
        frame.extend(data.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        self.ws.write_all(&frame).expect("send a frame");
    }

    fn recv(&mut self) -> String {
        let mut message = Vec::new();
        loop {
            let mut h = [0u8; 2];
            self.ws.read_exact(&mut h).expect("a frame header");
            let mut len = u64::from(h[1] & 0x7f);
            if len == 126 {
                let mut b = [0u8; 2];
                self.ws.read_exact(&mut b).unwrap();
                len = u64::from(u16::from_be_bytes(b));
            } else if len == 127 {
                let mut b = [0u8; 8];
                self.ws.read_exact(&mut b).unwrap();
                len = u64::from_be_bytes(b);
            }
            let mut payload = vec![0u8; len as usize];
            self.ws.read_exact(&mut payload).expect("a frame payload");
            message.extend_from_slice(&payload);
            if h[0] & 0x80 != 0 {
                return String::from_utf8_lossy(&message).into_owned();
            }
        }
    }

    /// `Runtime.evaluate(expr)`, its value.
    fn eval(&mut self, expr: &str) -> Value {
        let id = self.next;
        self.next += 1;
        let msg = json!({"id": id, "method": "Runtime.evaluate", "params": {"expression": expr, "returnByValue": true}});
        self.send(&msg.to_string());
        for _ in 0..1000 {
            let v: Value = serde_json::from_str(&self.recv()).unwrap_or_default();
            if v["id"] == json!(id) {
                return v["result"]["result"]["value"].clone();
            }
        }
        panic!("no answer to Runtime.evaluate {expr}");
    }
}

/// A plain HTTP/1.1 request to the map server: (status line, body).
fn http(addr: &str, request: &str) -> (String, String) {
    let mut s = TcpStream::connect(addr).expect("connect to the map server");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    // Read until the server closes, or (for an event stream) the first event arrived.
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) => panic!("reading the answer to {request:?}: {e}"),
        }
        let text = String::from_utf8_lossy(&out);
        if text.contains("text/event-stream") && text.contains("\ndata: ") && text.ends_with("\n\n")
        {
            break;
        }
    }
    let text = String::from_utf8_lossy(&out).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    (
        head.lines().next().unwrap_or("").to_owned(),
        body.to_owned(),
    )
}

#[test]
fn a_region_alone_is_drawn_through_the_signed_apis_of_any_endpoint() {
    let srv = common::Server::start();
    let v = srv
        .aws(&[
            "ec2",
            "create-vpc",
            "--cidr-block",
            "10.0.0.0/16",
            "--amazon-provided-ipv6-cidr-block",
        ])
        .json();
    let vpc = v["Vpc"]["VpcId"].as_str().unwrap().to_owned();
    let block: ipnet::Ipv6Net = v["Vpc"]["Ipv6CidrBlockAssociationSet"][0]["Ipv6CidrBlock"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let sub64 = ipnet::Ipv6Net::new(
        std::net::Ipv6Addr::from(u128::from(block.network()) | (7u128 << 64)),
        64,
    )
    .unwrap();
    let sn = srv
        .aws(&[
            "ec2",
            "create-subnet",
            "--vpc-id",
            &vpc,
            "--cidr-block",
            "10.0.7.0/24",
            "--ipv6-cidr-block",
            &sub64.to_string(),
            "--availability-zone",
            "us-east-1a",
        ])
        .json();
    let subnet = sn["Subnet"]["SubnetId"].as_str().unwrap().to_owned();
    let eigw = srv
        .aws(&[
            "ec2",
            "create-egress-only-internet-gateway",
            "--vpc-id",
            &vpc,
        ])
        .json();
    let eigw = eigw["EgressOnlyInternetGateway"]["EgressOnlyInternetGatewayId"]
        .as_str()
        .unwrap()
        .to_owned();

    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("region.html");
    let creds = srv.data_dir.join("credentials");
    let base = [
        "map",
        "--endpoint-url",
        &srv.endpoint,
        "--profile",
        "sixfold",
        "--credentials-file",
        creds.to_str().unwrap(),
    ];
    let mut args = base.to_vec();
    args.extend(["--output", file.to_str().unwrap()]);
    let Cli {
        code,
        stdout: out,
        stderr: err,
    } = sixfold(&args, LAB_CMD_TIMEOUT);
    assert_eq!(code, 0, "sixfold map on a region failed:\n{out}\n{err}");
    let html = std::fs::read_to_string(&file).unwrap();
    let text = text_of(&html);
    for want in [&vpc, &subnet, &eigw, &block.to_string(), &sub64.to_string()] {
        assert!(
            text.contains(want.as_str()),
            "{want} is not on the region's map"
        );
    }
    assert!(
        html.contains(&format!("region {}", srv.endpoint)),
        "the title names the endpoint"
    );

    // Wrong credentials: a clear error, in the region's own words, and no page.
    let bad = tmp.path().join("bad");
    std::fs::write(
        &bad,
        "[sixfold]\naws_access_key_id = AKIDNOTREAL\naws_secret_access_key = nope\n",
    )
    .unwrap();
    let mut args = base.to_vec();
    args[6] = bad.to_str().unwrap();
    let other = tmp.path().join("other.html");
    args.extend(["--output", other.to_str().unwrap()]);
    let Cli {
        code, stderr: err, ..
    } = sixfold(&args, LAB_CMD_TIMEOUT);
    assert!(
        code != 0 && !other.exists(),
        "a refused read writes no page"
    );
    assert!(
        err.contains("DescribeVpcs"),
        "the error names the call: {err}"
    );

    // The server: the page, the event stream, and clear refusals.
    let mut args = base.to_vec();
    args.extend(["--serve", "127.0.0.1:0"]);
    let mut server = Killed(
        Command::new(env!("CARGO_BIN_EXE_sixfold"))
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn sixfold map --serve"),
    );
    let url = served_url(&mut server.0);
    let addr = url.trim_start_matches("http://").trim_end_matches('/');
    let (status, body) = http(addr, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(status.contains("200"), "{status}");
    assert!(
        body.contains(&sub64.to_string()) && body.contains("EventSource"),
        "the live page"
    );
    let (status, body) = http(addr, "GET /events?since=0 HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(status.contains("200"), "{status}");
    let data = body
        .lines()
        .find_map(|l| l.strip_prefix("data: "))
        .expect("an event");
    let event: Value = serde_json::from_str(data).expect("the event is JSON");
    assert!(event["rev"].as_u64().unwrap() >= 1);
    assert!(event["html"].as_str().unwrap().contains(&subnet));
    let (status, body) = http(
        addr,
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
    );
    assert!(
        status.contains("405") && body.contains("only GET"),
        "{status} {body}"
    );
    let (status, body) = http(addr, "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(
        status.contains("404") && body.contains("/events"),
        "{status} {body}"
    );
}

#[test]
fn pods_drawn_compactly_still_name_themselves_on_hover() {
    assert!(
        Path::new(CHROMIUM).is_file(),
        "{CHROMIUM} is missing: the map tests open the page in a real browser"
    );
    // 30 nodes × 110 pods is past COMPACT_PODS: pods are patterned cells, not elements.
    let plan = map::synthetic::plan(30, 110);
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("big.html");
    std::fs::write(&file, map::render(&plan, map::Options::default())).unwrap();
    let profile = tmp.path().join("p");
    let _browser = Killed(
        chromium_cmd(&profile)
            .args([
                "--remote-debugging-port=0",
                &format!("file://{}", file.display()),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn chromium"),
    );
    let mut page = Cdp::connect(&profile);
    wait_for(
        &mut page,
        "document.querySelector('.podcells') !== null",
        "the page loads",
    );
    let node = &plan.vpcs[0].subnets[0].nodes[0];
    for i in [0usize, 2, 40] {
        // The centre of cell i of the first node, from the cells' box (per_row cells of 7 units).
        let at = page.eval(&format!(
            "(() => {{ const g = document.querySelector('.podcells[data-node=\"{}\"]'); g.scrollIntoView(); \
             const r = g.getBoundingClientRect(); const n = +g.dataset.n; const u = r.width / Math.min(n * 7, {} * 7); \
             return [r.left + ({i} % n) * 7 * u + 3 * u, r.top + Math.floor({i} / n) * 7 * u + 3 * u]; }})()",
            node.instance_id,
            node.pods.len()
        ));
        let (x, y) = (at[0].as_f64().unwrap(), at[1].as_f64().unwrap());
        let id = page.next;
        page.next += 1;
        page.send(
            &json!({"id": id, "method": "Input.dispatchMouseEvent", "params": {"type": "mouseMoved", "x": x, "y": y}})
                .to_string(),
        );
        for _ in 0..1000 {
            let v: Value = serde_json::from_str(&page.recv()).unwrap_or_default();
            if v["id"] == json!(id) {
                break;
            }
        }
        let want = &node.pods[i];
        let shown = page.eval("document.getElementById('dt').textContent");
        let shown = shown.as_str().unwrap_or_default();
        assert!(
            shown.contains(&want.name) && shown.contains(&want.ipv6.to_string()),
            "hovering cell {i} shows {shown:?}, not {} {}",
            want.name,
            want.ipv6
        );
    }
}
