//! Crash safety of a real agent process: `kill -9` in the middle of a burst of adds and dels,
//! restart, and check that every acknowledged allocation is still there, every acknowledged
//! release stayed released, and no address was ever given to two attachments.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::net::Ipv6Addr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use agent_api::{AttachmentKey, Request, Response, call};

const T: Duration = Duration::from_secs(5);
const PREFIX: &str = "2001:db8:0:1:abcd::/80";

/// The daemon process; killed (SIGKILL) and reaped when dropped.
struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn(dir: &Path) -> Daemon {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sixfold-agent-testd"))
        .args([
            "--prefix",
            PREFIX,
            "--node-ipv4",
            "10.0.1.7",
            "--instance-id",
            "i-0crash",
        ])
        .args(["--metrics-addr", "127.0.0.1:0", "--cooldown", "120s"])
        .arg("--data-dir")
        .arg(dir.join("data"))
        .arg("--socket")
        .arg(socket(dir))
        .arg("--cni-conf-dir")
        .arg(dir.join("net.d"))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn sixfold-agent-testd");
    let stdout = child.stdout.take().unwrap();
    let daemon = Daemon(child);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("agent did not become ready within 30 s");
    assert!(line.starts_with("ready"), "agent failed to start: {line:?}");
    daemon
}

fn socket(dir: &Path) -> PathBuf {
    dir.join("agent.sock")
}

fn key(c: &str) -> AttachmentKey {
    AttachmentKey {
        network: "sixfold".into(),
        container_id: c.into(),
        ifname: "eth0".into(),
    }
}

/// What the clients know about one attachment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Known {
    /// The add was acknowledged with this address and no del was sent.
    Added(Ipv6Addr),
    /// The del was acknowledged.
    Deleted,
    /// A request was in flight when the agent died: either outcome is fine.
    Unsure,
}

#[derive(Default)]
struct Ledger {
    known: BTreeMap<String, Known>,
    /// Every address ever acknowledged, with the one attachment it went to.
    given: HashMap<Ipv6Addr, String>,
}

impl Ledger {
    fn acked_add(&mut self, c: &str, a: Ipv6Addr) {
        if let Some(prev) = self.given.insert(a, c.to_owned()) {
            assert_eq!(
                prev, c,
                "{a} acknowledged to both {prev} and {c} (cooldown is 120 s)"
            );
        }
        self.known.insert(c.to_owned(), Known::Added(a));
    }
}

/// Adds (and every third attachment, a del right after) as fast as possible until the agent
/// stops answering.
fn burst(
    sock: PathBuf,
    round: usize,
    thread: usize,
    ledger: Arc<Mutex<Ledger>>,
    stop: Arc<AtomicBool>,
) {
    for i in 0.. {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let c = format!("r{round}-t{thread}-{i}");
        ledger
            .lock()
            .unwrap()
            .known
            .insert(c.clone(), Known::Unsure);
        match call(
            &sock,
            &Request::Add {
                key: key(&c),
                netns: None,
            },
            T,
        ) {
            Ok(Response::Added { allocation }) => {
                ledger.lock().unwrap().acked_add(&c, allocation.address)
            }
            Ok(other) => panic!("add {c}: {other:?}"),
            Err(_) => return, // the agent is gone
        }
        if i % 3 == 0 {
            ledger
                .lock()
                .unwrap()
                .known
                .insert(c.clone(), Known::Unsure);
            match call(&sock, &Request::Del { key: key(&c) }, T) {
                Ok(Response::Deleted { released: Some(_) }) => {
                    ledger.lock().unwrap().known.insert(c, Known::Deleted);
                }
                Ok(other) => panic!("del {c}: {other:?}"),
                Err(_) => return,
            }
        }
    }
}

fn verify(sock: &Path, ledger: &Ledger) {
    let Response::List { allocations } = call(sock, &Request::List, T).unwrap() else {
        panic!("list")
    };
    let mut held: HashMap<String, Ipv6Addr> = HashMap::new();
    let mut addrs = HashSet::new();
    for a in &allocations {
        assert!(
            addrs.insert(a.address),
            "{} is held twice after restart",
            a.address
        );
        held.insert(a.key.container_id.clone(), a.address);
        if let Some(owner) = ledger.given.get(&a.address) {
            assert_eq!(
                owner, &a.key.container_id,
                "{} held by {} but acknowledged to {owner}",
                a.address, a.key.container_id
            );
        }
    }
    for (c, k) in &ledger.known {
        match k {
            Known::Added(a) => {
                assert_eq!(held.get(c), Some(a), "acknowledged allocation of {c} lost")
            }
            Known::Deleted => assert!(!held.contains_key(c), "acknowledged release of {c} undone"),
            Known::Unsure => {}
        }
    }
}

#[test]
fn kill_9_during_a_burst_loses_nothing_acknowledged_and_never_double_allocates() {
    let dir = tempfile::tempdir().unwrap();
    let sock = socket(dir.path());
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let mut daemon = spawn(dir.path());
    for (round, kill_after_ms) in [100u64, 250, 0, 400].into_iter().enumerate() {
        let stop = Arc::new(AtomicBool::new(false));
        let before = ledger.lock().unwrap().given.len();
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let (sock, ledger, stop) = (sock.clone(), ledger.clone(), stop.clone());
                std::thread::spawn(move || burst(sock, round, t, ledger, stop))
            })
            .collect();
        // Kill only once the burst is under way (a few adds acknowledged), then a bit later.
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while ledger.lock().unwrap().given.len() < before + 5 {
            assert!(
                std::time::Instant::now() < deadline,
                "round {round}: no adds acknowledged within 20 s"
            );
            std::thread::sleep(Duration::from_millis(2));
        }
        std::thread::sleep(Duration::from_millis(kill_after_ms));
        daemon.0.kill().unwrap(); // SIGKILL
        daemon.0.wait().unwrap();
        stop.store(true, Ordering::SeqCst);
        for t in threads {
            t.join().unwrap();
        }
        let acked = ledger.lock().unwrap().given.len() - before;
        assert!(
            acked > 0,
            "round {round}: no add was acknowledged before the kill"
        );
        eprintln!("round {round}: {acked} adds acknowledged before kill -9");

        daemon = spawn(dir.path());
        verify(&sock, &ledger.lock().unwrap());
    }
    // The restarted agent keeps handing out unique addresses.
    let mut l = ledger.lock().unwrap();
    for i in 0..20 {
        let c = format!("after-{i}");
        let Response::Added { allocation } = call(
            &sock,
            &Request::Add {
                key: key(&c),
                netns: None,
            },
            T,
        )
        .unwrap() else {
            panic!()
        };
        l.acked_add(&c, allocation.address);
    }
    verify(&sock, &l);
}

/// `kill -9` while the agent creates its store on its very first start, at random moments:
/// the next start must always work (a half-created store file would be refused forever).
#[test]
fn kill_9_during_the_first_start_never_leaves_an_unopenable_store() {
    let mut seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos() as u64)
        .unwrap_or(7)
        | 1;
    for round in 0..20 {
        let dir = tempfile::tempdir().unwrap();
        let mut first = Daemon(
            Command::new(env!("CARGO_BIN_EXE_sixfold-agent-testd"))
                .args(["--prefix", PREFIX, "--node-ipv4", "10.0.1.7"])
                .args(["--instance-id", "i-0first", "--metrics-addr", "127.0.0.1:0"])
                .arg("--data-dir")
                .arg(dir.path().join("data"))
                .arg("--socket")
                .arg(socket(dir.path()))
                .arg("--cni-conf-dir")
                .arg(dir.path().join("net.d"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn sixfold-agent-testd"),
        );
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        std::thread::sleep(Duration::from_micros(seed % 80_000));
        let _ = first.0.kill();
        let _ = first.0.wait();
        // `spawn` waits for "ready" and fails loudly if the agent cannot open its store.
        let again = spawn(dir.path());
        let status = call(&socket(dir.path()), &Request::Status, T)
            .unwrap_or_else(|e| panic!("round {round}: {e}"));
        assert!(matches!(status, Response::Status { .. }), "{status:?}");
        drop(again);
    }
}
