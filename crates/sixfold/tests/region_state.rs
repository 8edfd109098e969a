//! The region's files under faults, end to end with the real `sixfold serve`: a damaged store
//! is refused with one line and left untouched, two servers racing for a new data dir leave
//! one whose key matches `credentials`, the files are private whatever the umask, and planted
//! links are not followed.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use common::query::{post_query, signed_query_headers};

const START_TIMEOUT: Duration = Duration::from_secs(20);

/// A `sixfold serve` with its stdout and stderr captured; killed on drop.
struct Serve {
    child: Child,
    listening: Receiver<String>,
    stderr: Arc<Mutex<String>>,
    started: Instant,
}

/// How a start ended.
#[derive(Debug)]
enum Outcome {
    Listening { endpoint: String, after: Duration },
    Exited { code: Option<i32>, stderr: String },
}

impl Serve {
    fn spawn(dir: &Path) -> Self {
        Self::spawn_with_umask(dir, None)
    }

    /// Start `sixfold serve` on `dir`, under `umask` if given (through `sh`, so the test
    /// process keeps its own).
    fn spawn_with_umask(dir: &Path, umask: Option<&str>) -> Self {
        let bin = env!("CARGO_BIN_EXE_sixfold");
        let mut cmd = match umask {
            Some(u) => {
                let mut c = Command::new("sh");
                c.args(["-c", &format!("umask {u} && exec \"$@\""), "sh", bin]);
                c
            }
            None => Command::new(bin),
        };
        cmd.args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir);
        Self::run(cmd)
    }

    /// Start `cmd`, which must end up as (exec) `sixfold serve`.
    fn run(mut cmd: Command) -> Self {
        let started = Instant::now();
        let mut child = cmd
            .env_remove("SIXFOLD_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn sixfold serve");
        let stdout = child.stdout.take().expect("stdout");
        let stderr_pipe = child.stderr.take().expect("stderr");
        let (tx, listening) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(i) = line.find("listening on ") {
                    let _ = tx.send(line[i + "listening on ".len()..].trim().to_string());
                }
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = Arc::clone(&stderr);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr_pipe).lines().map_while(Result::ok) {
                let mut s = sink.lock().unwrap();
                s.push_str(&line);
                s.push('\n');
            }
        });
        Self {
            child,
            listening,
            stderr,
            started,
        }
    }

    /// Wait until it listens or exits.
    fn outcome(&mut self) -> Outcome {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            match self.listening.recv_timeout(Duration::from_millis(10)) {
                Ok(endpoint) => {
                    return Outcome::Listening {
                        endpoint,
                        after: self.started.elapsed(),
                    };
                }
                Err(RecvTimeoutError::Timeout) | Err(RecvTimeoutError::Disconnected) => {}
            }
            if let Some(status) = self.child.try_wait().expect("wait") {
                // Let the reader threads drain what the process wrote before it exited.
                std::thread::sleep(Duration::from_millis(50));
                if let Ok(endpoint) = self.listening.try_recv() {
                    panic!("it listened on {endpoint} and then exited with {status}");
                }
                return Outcome::Exited {
                    code: status.code(),
                    stderr: self.stderr(),
                };
            }
            assert!(
                Instant::now() < deadline,
                "sixfold serve neither listened nor exited within {START_TIMEOUT:?}; stderr: {}",
                self.stderr()
            );
        }
    }

    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Stop it with SIGTERM (a clean shutdown) and wait.
    fn terminate(mut self) {
        let pid = self.child.id() as libc::pid_t;
        // SAFETY: kill(2) on the pid of a child this test spawned and has not reaped yet.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.child.try_wait().expect("wait").is_none() {
            assert!(Instant::now() < deadline, "serve ignored SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn listening(s: &mut Serve) -> String {
    match s.outcome() {
        Outcome::Listening { endpoint, .. } => endpoint,
        Outcome::Exited { code, stderr } => panic!("serve exited ({code:?}): {stderr}"),
    }
}

fn credentials(dir: &Path) -> sigv4::Credentials {
    let text = std::fs::read_to_string(dir.join("credentials")).expect("credentials file");
    region_api::credentials::parse(&text, "sixfold").expect("sixfold profile")
}

/// One EC2 Query call signed with `creds`: (HTTP status, body).
fn ec2(endpoint: &str, creds: &sigv4::Credentials, body: &str) -> (u16, String) {
    let headers =
        signed_query_headers(endpoint, body, creds, "ec2", "us-east-1", SystemTime::now());
    post_query(endpoint, &headers, body)
}

const DESCRIBE_VPCS: &str = "Action=DescribeVpcs&Version=2016-11-15";

fn create_vpc(endpoint: &str, creds: &sigv4::Credentials) -> (u16, String) {
    ec2(
        endpoint,
        creds,
        "Action=CreateVpc&Version=2016-11-15&CidrBlock=10.0.0.0%2F16&AmazonProvidedIpv6CidrBlock=true",
    )
}

fn vpc_ids(xml: &str) -> Vec<String> {
    xml.split("<vpcId>")
        .skip(1)
        .filter_map(|s| s.split_once("</vpcId>").map(|(id, _)| id.to_string()))
        .collect()
}

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o7777
}

/// A data dir holding a region with three VPCs, shut down cleanly.
fn region_with_vpcs(dir: &Path) -> Vec<String> {
    let mut s = Serve::spawn(dir);
    let endpoint = listening(&mut s);
    let creds = credentials(dir);
    for _ in 0..3 {
        let (status, body) = create_vpc(&endpoint, &creds);
        assert_eq!(status, 200, "{body}");
    }
    let (status, body) = ec2(&endpoint, &creds, DESCRIBE_VPCS);
    assert_eq!(status, 200, "{body}");
    s.terminate();
    let ids = vpc_ids(&body);
    assert_eq!(ids.len(), 3, "{body}");
    ids
}

/// Each damage once started an empty region, panicked, or blamed another process.
type Damage = fn(&mut Vec<u8>);

const DAMAGES: [(&str, Damage); 4] = [
    ("truncated to 0 bytes", |b| b.clear()),
    ("truncated to half", |b| b.truncate(b.len() / 2)),
    ("random bytes in the header", |b| {
        for (i, x) in b[9..512].iter_mut().enumerate() {
            *x = (i as u8).wrapping_mul(37).wrapping_add(11);
        }
    }),
    ("a garbage file", |b| {
        let n = b.len();
        *b = (0..n).map(|i| (i * 7919 % 251) as u8).collect();
    }),
];

#[test]
fn serve_refuses_a_damaged_store_with_one_line_never_starting_empty() {
    let tmp = tempfile::tempdir().unwrap();
    let good = tmp.path().join("good");
    let ids = region_with_vpcs(&good);
    let store = std::fs::read(good.join("region.redb")).unwrap();

    // The healthy store starts, with its state, quickly (a figure, not an assertion).
    let mut s = Serve::spawn(&good);
    match s.outcome() {
        Outcome::Listening { endpoint, after } => {
            eprintln!("a healthy store with 3 VPCs listened {after:?} after spawn");
            let (status, body) = ec2(&endpoint, &credentials(&good), DESCRIBE_VPCS);
            assert_eq!((status, vpc_ids(&body)), (200, ids.clone()), "{body}");
        }
        other => panic!("the healthy store did not start: {other:?}"),
    }
    drop(s);

    for (what, damage) in DAMAGES {
        let dir = tmp.path().join(what.replace(' ', "-"));
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
        std::fs::copy(good.join("credentials"), dir.join("credentials")).unwrap();
        let mut bytes = store.clone();
        damage(&mut bytes);
        let path = dir.join("region.redb");
        std::fs::write(&path, &bytes).unwrap();
        match Serve::spawn(&dir).outcome() {
            Outcome::Listening { .. } => panic!("{what}: the region started on a damaged store"),
            Outcome::Exited { code, stderr } => {
                assert!(code.is_some_and(|c| c != 0), "{what}: exit {code:?}");
                let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
                assert_eq!(lines.len(), 1, "{what}: one line on stderr, got {stderr:?}");
                let line = lines[0];
                eprintln!("{what}: {line}");
                assert!(line.contains(&path.display().to_string()), "{what}: {line}");
                assert!(
                    line.contains("restore it from a backup")
                        && line.contains("move it away to start an empty region"),
                    "{what}: {line}"
                );
                assert!(
                    !line.contains("another `sixfold serve`") && !line.contains("panicked at"),
                    "{what}: {line}"
                );
            }
        }
        assert_eq!(
            std::fs::read(&path).unwrap(),
            bytes,
            "{what}: the refused store was modified"
        );
    }
}

#[test]
fn a_second_serve_on_a_busy_data_dir_names_the_first_ones_pid() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("region");
    let mut first = Serve::spawn(&dir);
    listening(&mut first);
    match Serve::spawn(&dir).outcome() {
        Outcome::Exited { code, stderr } => {
            assert!(code.is_some_and(|c| c != 0));
            let want = format!(
                "another `sixfold serve` (pid {}) is using the data dir",
                first.child.id()
            );
            assert!(stderr.contains(&want), "{stderr}");
            assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
        }
        other => panic!("a second serve started on a busy data dir: {other:?}"),
    }
}

#[test]
fn two_serves_started_at_once_on_a_new_dir_leave_one_whose_key_matches_credentials() {
    const TRIALS: usize = 20;
    let tmp = tempfile::tempdir().unwrap();
    for trial in 0..TRIALS {
        let dir = tmp.path().join(format!("trial-{trial}"));
        let mut a = Serve::spawn(&dir);
        let mut b = Serve::spawn(&dir);
        let (oa, ob) = (a.outcome(), b.outcome());
        let (survivor, endpoint, loser) = match (oa, ob) {
            (Outcome::Listening { endpoint, .. }, Outcome::Exited { code, stderr }) => {
                (&a, endpoint, (code, stderr))
            }
            (Outcome::Exited { code, stderr }, Outcome::Listening { endpoint, .. }) => {
                (&b, endpoint, (code, stderr))
            }
            other => panic!("trial {trial}: want exactly one survivor, got {other:?}"),
        };
        let (code, stderr) = loser;
        assert!(code.is_some_and(|c| c != 0), "trial {trial}");
        assert!(
            stderr.contains("another `sixfold serve`") && stderr.contains("is using the data dir"),
            "trial {trial}: {stderr}"
        );
        if let Some(i) = stderr.find("(pid ") {
            let pid: String = stderr[i + 5..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            assert_eq!(
                pid,
                survivor.child.id().to_string(),
                "trial {trial}: {stderr}"
            );
        }
        let (status, body) = ec2(&endpoint, &credentials(&dir), DESCRIBE_VPCS);
        assert_eq!(
            status, 200,
            "trial {trial}: the survivor refused the key in credentials: {body}"
        );
    }
}

#[test]
fn files_are_private_whatever_the_umask() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("new/region");
    let mut s = Serve::spawn_with_umask(&dir, Some("000"));
    listening(&mut s);
    drop(s);
    assert_eq!(mode(&dir), 0o700, "data dir");
    for f in ["credentials", "region.redb", "lock"] {
        assert_eq!(mode(&dir.join(f)), 0o600, "{f}");
    }

    // An existing data dir others can write is used, with a warning naming it.
    let open = tmp.path().join("open");
    std::fs::create_dir(&open).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
    let mut s = Serve::spawn_with_umask(&open, Some("000"));
    listening(&mut s);
    let stderr = s.stderr();
    assert!(
        stderr.contains("writable by group or others") && stderr.contains("chmod 700"),
        "{stderr}"
    );
    for f in ["credentials", "region.redb", "lock"] {
        assert_eq!(mode(&open.join(f)), 0o600, "{f}");
    }
}

#[test]
fn planted_links_and_an_open_credentials_file_are_refused_not_followed() {
    let tmp = tempfile::tempdir().unwrap();
    let victim = tmp.path().join("victim");
    std::fs::write(&victim, b"precious").unwrap();

    // A link planted where the key is written first is removed, not written through.
    let dir = tmp.path().join("region");
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    std::os::unix::fs::symlink(&victim, dir.join(".credentials.tmp")).unwrap();
    let mut s = Serve::spawn(&dir);
    let endpoint = listening(&mut s);
    assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
    let (status, body) = ec2(&endpoint, &credentials(&dir), DESCRIBE_VPCS);
    assert_eq!(status, 200, "{body}");
    drop(s);

    // A credentials file others may read is refused the way ssh refuses a private key.
    let creds = dir.join("credentials");
    std::fs::set_permissions(&creds, std::fs::Permissions::from_mode(0o666)).unwrap();
    let want = format!("permissions 0666 for {} are too open", creds.display());
    expect_refusal(&dir, &[&want, &format!("chmod 600 {}", creds.display())]);
    assert_eq!(mode(&creds), 0o666, "a refused file is left as it is");

    // A credentials file that is a link is refused.
    let key = std::fs::read(&creds).unwrap();
    std::fs::remove_file(&creds).unwrap();
    std::os::unix::fs::symlink(&victim, &creds).unwrap();
    expect_refusal(&dir, &[&format!("{} is a symbolic link", creds.display())]);
    assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
    assert!(!key.is_empty());
}

fn expect_refusal(dir: &Path, needles: &[&str]) {
    match Serve::spawn(dir).outcome() {
        Outcome::Exited { code, stderr } => {
            assert!(code.is_some_and(|c| c != 0));
            for n in needles {
                assert!(stderr.contains(n), "want {n:?} in {stderr}");
            }
        }
        other => panic!("serve started: {other:?}"),
    }
}

/// Every VPC id the region reports.
fn described(endpoint: &str, creds: &sigv4::Credentials) -> Vec<String> {
    let (status, body) = ec2(endpoint, creds, DESCRIBE_VPCS);
    assert_eq!(status, 200, "{body}");
    let mut ids = vpc_ids(&body);
    ids.sort();
    ids
}

#[test]
fn writes_recover_by_themselves_once_a_full_disk_has_room_again() {
    test_support::require_root("it mounts a 1 MiB tmpfs (in a private mount namespace) to fill it");
    let tmp = tempfile::tempdir().unwrap();
    let mnt = tmp.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    // The tmpfs lives in a mount namespace of the server's own (unshare execs, so the child is
    // the server); it goes with the server, whatever happens to the test.
    let mut cmd = Command::new("unshare");
    cmd.args(["--mount", "--propagation", "private", "sh", "-c"])
        .arg(r#"mount -t tmpfs -o size=1m,mode=0700 sixfold-full "$1" && exec "$2" serve --listen 127.0.0.1:0 --data-dir "$1/region""#)
        .arg("sh")
        .arg(&mnt)
        .arg(env!("CARGO_BIN_EXE_sixfold"));
    let mut s = Serve::run(cmd);
    let endpoint = listening(&mut s);
    // The server's view of the mount, from outside its namespace.
    let view = PathBuf::from(format!("/proc/{}/root{}", s.child.id(), mnt.display()));
    let creds = credentials(&view.join("region"));

    let mut acknowledged = Vec::new();
    let (status, body) = create_vpc(&endpoint, &creds);
    assert_eq!(status, 200, "{body}");
    acknowledged.extend(vpc_ids(&body));

    // Fill the filesystem.
    let filler = view.join("filler");
    {
        let mut f = std::fs::File::create(&filler).unwrap();
        let chunk = vec![0u8; 64 * 1024];
        let full = (0..64).find_map(|_| f.write_all(&chunk).err());
        let e = full.expect("1 MiB of tmpfs did not fill with 4 MiB");
        assert_eq!(e.raw_os_error(), Some(libc::ENOSPC), "{e}");
    }

    // While full, writes are refused with 500 InternalError (and change nothing); reads work.
    let mut refused = 0;
    for _ in 0..5 {
        let (status, body) = create_vpc(&endpoint, &creds);
        match status {
            200 => acknowledged.extend(vpc_ids(&body)),
            500 => {
                assert!(body.contains("<Code>InternalError</Code>"), "{body}");
                refused += 1;
            }
            other => panic!("a write on a full disk answered {other}: {body}"),
        }
    }
    assert!(refused > 0, "no write failed on a full disk");
    acknowledged.sort();
    assert_eq!(described(&endpoint, &creds), acknowledged);

    // Room again: the very next write succeeds, with no restart.
    std::fs::remove_file(&filler).unwrap();
    for _ in 0..2 {
        let (status, body) = create_vpc(&endpoint, &creds);
        assert_eq!(
            status, 200,
            "a write still fails after the disk has room again: {body}"
        );
        acknowledged.extend(vpc_ids(&body));
    }
    acknowledged.sort();
    assert_eq!(described(&endpoint, &creds), acknowledged);
    assert!(
        s.child.try_wait().unwrap().is_none(),
        "the server restarted"
    );

    // And it is on disk: a copy of the files opens with exactly the acknowledged VPCs.
    let copy = tmp.path().join("copy");
    std::fs::create_dir(&copy).unwrap();
    std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o700)).unwrap();
    for f in ["credentials", "region.redb"] {
        std::fs::copy(view.join("region").join(f), copy.join(f)).unwrap();
    }
    s.terminate();
    let mut again = Serve::spawn(&copy);
    let endpoint = listening(&mut again);
    assert_eq!(described(&endpoint, &credentials(&copy)), acknowledged);
}
