//! End to end: the region on etcd. A real 3-member etcd cluster (Debian's `etcd`) and three
//! `sixfold serve --etcd-endpoints` replicas on loopback; a bounded create storm spread over
//! the replicas (VPCs, subnets, RunInstances, AssignIpv6Addresses Ipv6PrefixCount=1, ipv6 EKS
//! clusters) while a replica and an etcd member are killed with `kill -9` and restarted. Then:
//! no duplicate /56, /80, /108 or id; every acknowledged write present; nothing half made;
//! every replica answers the same, at once.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use common::Server;
use ec2_client::feed::FeedClient;
use ec2_client::{Ec2Client, Ec2Error, RetryPolicy};
use serde_json::Value;

const ROLE: &str = "arn:aws:iam::123456789012:role/eks";
const ETCD: &str = "/usr/bin/etcd";

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// One etcd member, killed by pid on drop.
struct Member {
    name: String,
    client: u16,
    args: Vec<String>,
    child: Option<Child>,
}

impl Member {
    fn spawn(&mut self) {
        let child = Command::new(ETCD)
            .args(&self.args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start {ETCD} ({e}); install Debian's etcd-server (scripts/install-deps --tests)")
            });
        self.child = Some(child);
    }

    fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.client)
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// An etcd cluster (3 members unless said otherwise) in a temp dir.
struct Cluster {
    members: Vec<Member>,
    _dir: tempfile::TempDir,
}

impl Cluster {
    fn start() -> Self {
        Self::start_n(3)
    }

    fn start_n(n: usize) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let ports: Vec<(u16, u16)> = (0..n).map(|_| (free_port(), free_port())).collect();
        let token = format!("sixfold-test-{}", std::process::id());
        let initial: Vec<String> = ports
            .iter()
            .enumerate()
            .map(|(i, (_, p))| format!("m{i}=http://127.0.0.1:{p}"))
            .collect();
        let mut members = Vec::new();
        for (i, (c, p)) in ports.iter().enumerate() {
            let data: PathBuf = dir.path().join(format!("m{i}"));
            let args = [
                "--name".to_string(),
                format!("m{i}"),
                "--data-dir".into(),
                data.display().to_string(),
                "--listen-client-urls".into(),
                format!("http://127.0.0.1:{c}"),
                "--advertise-client-urls".into(),
                format!("http://127.0.0.1:{c}"),
                "--listen-peer-urls".into(),
                format!("http://127.0.0.1:{p}"),
                "--initial-advertise-peer-urls".into(),
                format!("http://127.0.0.1:{p}"),
                "--initial-cluster".into(),
                initial.join(","),
                "--initial-cluster-state".into(),
                "new".into(),
                "--initial-cluster-token".into(),
                token.clone(),
                "--max-txn-ops".into(),
                "1024".into(),
                "--heartbeat-interval".into(),
                "50".into(),
                "--election-timeout".into(),
                "500".into(),
            ]
            .to_vec();
            let mut m = Member {
                name: format!("m{i}"),
                client: *c,
                args,
                child: None,
            };
            m.spawn();
            members.push(m);
        }
        let c = Cluster { members, _dir: dir };
        c.wait_healthy();
        c
    }

    fn endpoints(&self) -> String {
        self.members
            .iter()
            .map(Member::endpoint)
            .collect::<Vec<_>>()
            .join(",")
    }

    fn wait_healthy(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        for m in &self.members {
            loop {
                let ok = ureq::get(&format!("{}/health", m.endpoint()))
                    .timeout(Duration::from_secs(2))
                    .call()
                    .ok()
                    .and_then(|r| r.into_string().ok())
                    .is_some_and(|t| t.contains("true"));
                if ok {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "etcd member {} not healthy within 30 s",
                    m.name
                );
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
}

fn replica(eps: &str) -> Server {
    Server::start_with(&["--etcd-endpoints", eps, "--etcd-max-txn-ops", "1024"])
}

fn p(k: &str, v: impl Into<String>) -> (String, String) {
    (k.to_string(), v.into())
}

/// A signed EKS JSON call; `Ok(body)` on 2xx.
fn eks(
    endpoint: &str,
    creds: &sigv4::Credentials,
    path: &str,
    body: &str,
) -> Result<Value, String> {
    let host = endpoint.trim_start_matches("http://").to_string();
    let headers = vec![
        ("host".to_string(), host),
        ("content-type".to_string(), "application/json".to_string()),
    ];
    let req = sigv4::HttpRequest {
        method: "POST",
        path,
        query: "",
        headers: &headers,
        body: body.as_bytes(),
    };
    let params = sigv4::SigningParams {
        region: "us-east-1",
        service: "eks",
        time: SystemTime::now(),
        content_sha256_header: false,
    };
    let mut r = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(10))
        .build()
        .post(&format!("{endpoint}{path}"))
        .set("content-type", "application/json");
    for (k, v) in sigv4::sign(&req, creds, &params).map_err(|e| e.to_string())? {
        r = r.set(&k, &v);
    }
    match r.send_string(body) {
        Ok(x) => serde_json::from_str(&x.into_string().map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    }
}

/// What the storm got acknowledged.
#[derive(Default)]
struct Acked {
    vpcs: Vec<String>,
    subnets: Vec<String>,
    instances: Vec<String>,
    prefixes: Vec<(String, String)>,
    clusters: Vec<String>,
    refused: usize,
}

/// One worker's bounded chain of creates against replica `i` (cycling to the next replica on
/// failure). Every acknowledged create is checked at once on another replica.
fn worker(
    w: usize,
    rounds: usize,
    servers: Arc<Mutex<Vec<(String, sigv4::Credentials)>>>,
    acked: Arc<Mutex<Acked>>,
) {
    let client_of = |i: usize| {
        let s = servers.lock().unwrap();
        let (ep, c) = &s[i % s.len()];
        (
            Ec2Client::new("us-east-1", Some(ep), c.clone())
                .unwrap()
                .with_timeout(Duration::from_secs(10))
                .with_retry(RetryPolicy {
                    max_attempts: 1,
                    ..RetryPolicy::default()
                }),
            ep.clone(),
            c.clone(),
        )
    };
    let refused = |e: &Ec2Error| {
        let s = e.to_string();
        assert!(
            s.contains("ServiceUnavailable") || s.contains("cannot reach") || s.contains("HTTP 5"),
            "worker {w}: a refusal other than unavailability: {s}"
        );
    };
    for r in 0..rounds {
        let i = w + r;
        let (c, _, _) = client_of(i);
        let vpc = match c.call(
            "CreateVpc",
            &[
                p("CidrBlock", "10.0.0.0/16"),
                p("AmazonProvidedIpv6CidrBlock", "true"),
            ],
        ) {
            Ok(x) => x
                .child("vpc")
                .and_then(|v| v.child_text("vpcId"))
                .unwrap()
                .to_string(),
            Err(e) => {
                refused(&e);
                acked.lock().unwrap().refused += 1;
                continue;
            }
        };
        acked.lock().unwrap().vpcs.push(vpc.clone());
        // Visible on another replica at once (linearizable reads).
        let (other, _, _) = client_of(i + 1);
        match other.call("DescribeVpcs", &[p("VpcId.1", vpc.clone())]) {
            Ok(x) => assert!(
                format!("{x:?}").contains(&vpc),
                "worker {w}: {vpc} acknowledged but not visible on another replica"
            ),
            Err(e) => refused(&e),
        }
        let block = match other.call("DescribeVpcs", &[p("VpcId.1", vpc.clone())]) {
            Ok(x) => {
                let t = format!("{x:?}");
                let i = t.find("2001:db8").expect("the VPC's /56");
                t[i..]
                    .split(['/', '"', '<', ' '])
                    .next()
                    .unwrap()
                    .to_string()
            }
            Err(_) => continue,
        };
        let sub = match c.call(
            "CreateSubnet",
            &[
                p("VpcId", vpc.clone()),
                p("CidrBlock", "10.0.1.0/24"),
                p("Ipv6CidrBlock", format!("{block}/64")),
            ],
        ) {
            Ok(x) => x
                .child("subnet")
                .and_then(|v| v.child_text("subnetId"))
                .unwrap()
                .to_string(),
            Err(e) => {
                refused(&e);
                continue;
            }
        };
        acked.lock().unwrap().subnets.push(sub.clone());
        let (c, ep, creds) = client_of(i + 2);
        let inst = match c.call(
            "RunInstances",
            &[
                p("ImageId", "ami-12345678"),
                p("InstanceType", "m5.large"),
                p("MinCount", "1"),
                p("MaxCount", "1"),
                p("SubnetId", sub.clone()),
            ],
        ) {
            Ok(x) => {
                let t = format!("{x:?}");
                let a = t.find("i-").unwrap();
                let id: String = t[a..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
                    .collect();
                let b = t.find("eni-").unwrap();
                let eni: String = t[b..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
                    .collect();
                (id, eni)
            }
            Err(e) => {
                refused(&e);
                continue;
            }
        };
        acked.lock().unwrap().instances.push(inst.0.clone());
        match c.assign_ipv6_prefix(&inst.1, 1) {
            Ok(a) => {
                let pfx = a.prefixes.first().expect("one /80").to_string();
                acked.lock().unwrap().prefixes.push((inst.1.clone(), pfx));
            }
            Err(e) => refused(&e),
        }
        if r % 3 == 0 {
            let name = format!("c{w}x{r}");
            let body = serde_json::json!({
                "name": name,
                "roleArn": ROLE,
                "resourcesVpcConfig": {"subnetIds": [sub]},
                "kubernetesNetworkConfig": {"ipFamily": "ipv6"},
            })
            .to_string();
            match eks(&ep, &creds, "/clusters", &body) {
                Ok(_) => acked.lock().unwrap().clusters.push(name),
                Err(e) => assert!(
                    e.contains("503")
                        || e.contains("onnect")
                        || e.contains("reset")
                        || e.contains("timed out"),
                    "worker {w}: cluster refused: {e}"
                ),
            }
        }
    }
}

/// Every row of the region as one replica sees it, by table.
fn rows(srv: &Server) -> (u64, BTreeMap<String, Vec<(String, Value)>>) {
    let feed = FeedClient::new("us-east-1", &srv.endpoint, srv.credentials()).unwrap();
    // A member just restarted may refuse for a moment (503): retry, bounded.
    let deadline = Instant::now() + Duration::from_secs(20);
    let snap = loop {
        match feed.snapshot() {
            Ok(s) => break s,
            Err(e) if Instant::now() < deadline => {
                assert!(e.to_string().contains("ServiceUnavailable"), "{e}");
                std::thread::sleep(Duration::from_millis(200));
            }
            Err(e) => panic!("no snapshot within 20 s: {e}"),
        }
    };
    let mut by: BTreeMap<String, Vec<(String, Value)>> = BTreeMap::new();
    for (t, k, v) in snap.rows {
        by.entry(t).or_default().push((k, v));
    }
    (snap.revision, by)
}

fn dupes(items: impl Iterator<Item = String>) -> Vec<String> {
    let mut seen = BTreeSet::new();
    items.filter(|x| !seen.insert(x.clone())).collect()
}

#[test]
fn three_replicas_on_a_three_member_etcd_never_hand_out_a_duplicate_and_lose_nothing_under_kill_9()
{
    let started = Instant::now();
    let mut etcd = Cluster::start();
    let eps = etcd.endpoints();
    let mut servers: Vec<Server> = (0..3).map(|_| replica(&eps)).collect();
    // One key for all: every replica wrote the same credentials file.
    let keys: BTreeSet<String> = servers
        .iter()
        .map(|s| std::fs::read_to_string(s.data_dir.join("credentials")).unwrap())
        .collect();
    assert_eq!(keys.len(), 1, "replicas disagree on the region's key");
    let shared = Arc::new(Mutex::new(
        servers
            .iter()
            .map(|s| (s.endpoint.clone(), s.credentials()))
            .collect::<Vec<_>>(),
    ));
    let acked = Arc::new(Mutex::new(Acked::default()));
    let workers: Vec<_> = (0..3)
        .map(|w| {
            let (s, a) = (shared.clone(), acked.clone());
            std::thread::spawn(move || worker(w, 10, s, a))
        })
        .collect();
    // Chaos while the storm runs: kill -9 a replica and an etcd member, restart both.
    std::thread::sleep(Duration::from_millis(1500));
    servers[1].kill9_and_restart();
    etcd.members[2].kill9();
    std::thread::sleep(Duration::from_millis(1500));
    etcd.members[2].spawn();
    etcd.wait_healthy();
    servers[2].kill9_and_restart();
    for w in workers {
        w.join().expect("a worker panicked");
    }
    etcd.wait_healthy();
    let acked = acked.lock().unwrap();
    assert!(
        acked.vpcs.len() >= 15,
        "too few VPCs acknowledged: {}",
        acked.vpcs.len()
    );

    // Every replica answers the same, at the same revision.
    let views: Vec<_> = servers.iter().map(rows).collect();
    for v in &views[1..] {
        assert_eq!(v.0, views[0].0, "replicas at different revisions");
        assert_eq!(v.1, views[0].1, "replicas disagree");
    }
    let by = &views[0].1;
    let table = |t: &str| by.get(t).cloned().unwrap_or_default();
    let vpcs = table("vpcs");
    let enis = table("network_interfaces");
    let instances = table("instances");
    let subnets = table("subnets");
    let clusters = table("eks_clusters");
    let v56 = vpcs.iter().flat_map(|(_, v)| {
        v["ipv6_associations"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .map(|a| a["cidr"].as_str().unwrap_or("").to_string())
    });
    let d56 = dupes(v56);
    let p80 = enis.iter().flat_map(|(_, v)| {
        v["ipv6_prefixes"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .map(|a| a.as_str().unwrap_or("").to_string())
    });
    let d80 = dupes(p80);
    let s108 = clusters.iter().map(|(_, v)| v["service_cidr"].to_string());
    let d108 = dupes(s108);
    let ids = dupes(
        by.values()
            .flat_map(|rows| rows.iter().map(|(k, _)| k.clone())),
    );
    println!(
        "storm: {} VPCs, {} subnets, {} instances, {} /80s, {} clusters acknowledged; {} refused (503/unreachable); duplicates: /56 {}, /80 {}, /108 {}, ids {}; {:.1} s",
        acked.vpcs.len(),
        acked.subnets.len(),
        acked.instances.len(),
        acked.prefixes.len(),
        acked.clusters.len(),
        acked.refused,
        d56.len(),
        d80.len(),
        d108.len(),
        ids.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(d56.is_empty(), "duplicate /56: {d56:?}");
    assert!(d80.is_empty(), "duplicate /80: {d80:?}");
    assert!(d108.is_empty(), "duplicate /108: {d108:?}");
    assert!(ids.is_empty(), "duplicate ids: {ids:?}");

    // Nothing acknowledged is lost.
    let has = |rows: &[(String, Value)], id: &str| rows.iter().any(|(k, _)| k == id);
    for v in &acked.vpcs {
        assert!(has(&vpcs, v), "acknowledged {v} lost");
    }
    for s in &acked.subnets {
        assert!(has(&subnets, s), "acknowledged {s} lost");
    }
    for i in &acked.instances {
        assert!(has(&instances, i), "acknowledged {i} lost");
    }
    for (eni, pfx) in &acked.prefixes {
        let row = enis
            .iter()
            .find(|(k, _)| k == eni)
            .map(|(_, v)| v.to_string());
        assert!(
            row.as_deref().is_some_and(|r| r.contains(pfx.as_str())),
            "acknowledged {pfx} on {eni} lost"
        );
    }
    for c in &acked.clusters {
        assert!(
            clusters.iter().any(|(k, _)| k.contains(c.as_str())),
            "acknowledged cluster {c} lost"
        );
    }
    // Nothing half made: every instance has its ENI, every ENI and subnet its VPC.
    for (id, v) in &instances {
        let eni = v.to_string();
        assert!(
            enis.iter().any(|(k, _)| eni.contains(k.as_str())),
            "instance {id} without its network interface"
        );
    }
    for (id, v) in enis.iter().chain(subnets.iter()) {
        let vpc = v["vpc_id"].as_str().unwrap_or("");
        assert!(has(&vpcs, vpc), "{id} in a VPC that does not exist ({vpc})");
    }

    // The real AWS CLI on any replica, with any replica's credentials file.
    // (A member just restarted may still refuse a call: 503, retried, bounded.)
    let mut cli = servers[2].aws(&["ec2", "describe-vpcs"]);
    for _ in 0..20 {
        if cli.code == 0 || !cli.stderr.contains("ServiceUnavailable") {
            break;
        }
        std::thread::sleep(Duration::from_millis(300));
        cli = servers[2].aws(&["ec2", "describe-vpcs"]);
    }
    let cli = cli.json();
    assert_eq!(
        cli["Vpcs"].as_array().map(Vec::len),
        Some(vpcs.len()),
        "the AWS CLI sees every VPC on replica 2"
    );
}

#[test]
fn export_to_etcd_moves_an_embedded_region_with_its_key_and_refuses_a_second_time() {
    let etcd = Cluster::start_n(1);
    let eps = etcd.endpoints();
    let mut embedded = Server::start();
    let vpc = embedded
        .aws(&[
            "ec2",
            "create-vpc",
            "--cidr-block",
            "10.0.0.0/16",
            "--amazon-provided-ipv6-cidr-block",
        ])
        .json()["Vpc"]["VpcId"]
        .as_str()
        .expect("VpcId")
        .to_string();
    let (_, before) = rows(&embedded);
    let key = std::fs::read_to_string(embedded.data_dir.join("credentials")).unwrap();
    embedded.child.kill().expect("stop the embedded server");
    let _ = embedded.child.wait();
    let export = |dir: &std::path::Path| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_sixfold"));
        cmd.args(["serve", "--data-dir"])
            .arg(dir)
            .args(["--export-to-etcd", &eps])
            .env("SIXFOLD_LOG", "warn");
        common::run(cmd, common::CLI_TIMEOUT)
    };
    let first = export(&embedded.data_dir);
    assert_eq!(first.code, 0, "export failed: {}", first.stderr);
    assert!(first.stdout.contains("exported"), "{}", first.stdout);
    // Exporting again into a prefix that is no longer empty is refused.
    let second = export(&embedded.data_dir);
    assert_ne!(second.code, 0, "a second export was accepted");
    assert!(
        second.stderr.contains("already holds a region"),
        "{}",
        second.stderr
    );

    // A replica on etcd, on the same data dir: same key, same rows, the CLI sees the VPC.
    let replica = Server::start_in_with(&embedded.data_dir, &["--etcd-endpoints", &eps]);
    assert_eq!(
        std::fs::read_to_string(replica.data_dir.join("credentials")).unwrap(),
        key,
        "the key changed"
    );
    let (_, after) = rows(&replica);
    assert_eq!(after, before, "rows differ after the export");
    let d = replica
        .aws(&["ec2", "describe-vpcs", "--vpc-ids", &vpc])
        .json();
    assert_eq!(d["Vpcs"][0]["VpcId"].as_str(), Some(vpc.as_str()));
}
