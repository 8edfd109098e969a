//! A lab for a root end-to-end test: `sixfold up` under a unique name (`t<pid>l<n>`), the real
//! AWS CLI pointed at the lab's own region (endpoint and credentials from its state), probes
//! from inside its namespaces, and `sixfold down` in Drop, even when the test fails.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::{CLI_TIMEOUT, Cli, aws_binary, run};

/// How long `sixfold up` of a small lab may take.
pub const UP_TIMEOUT: Duration = Duration::from_secs(180);

/// Fail (never skip) unless running as root.
pub fn require_root() {
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    assert_eq!(
        euid, 0,
        "the lab tests need root: `sixfold up` creates network namespaces; run the suite as root"
    );
}

/// The `sixfold` binary under test.
pub fn sixfold_bin() -> &'static str {
    env!("CARGO_BIN_EXE_sixfold")
}

/// Run `sixfold ARGS` with a timeout.
pub fn sixfold(args: &[&str], timeout: Duration) -> Cli {
    sixfold_env(args, &[], timeout)
}

/// Run `sixfold ARGS` with extra environment variables and a timeout.
pub fn sixfold_env(args: &[&str], env: &[(&str, &str)], timeout: Duration) -> Cli {
    let mut cmd = Command::new(sixfold_bin());
    cmd.args(args).envs(env.iter().copied());
    run(cmd, timeout)
}

/// One running lab; removed with `sixfold down` when dropped.
pub struct Lab {
    pub name: String,
    pub up: Cli,
}

impl Lab {
    /// A unique lab name (at most 12 characters, as `plan::check_name` allows).
    pub fn unique_name() -> String {
        static N: AtomicUsize = AtomicUsize::new(0);
        format!(
            "t{}l{}",
            std::process::id() % 100_000,
            N.fetch_add(1, Ordering::SeqCst)
        )
    }

    /// `sixfold up --name <unique> ARGS`; panics with its output if it fails (the lab is
    /// removed all the same).
    pub fn up(args: &[&str]) -> Lab {
        Self::up_env(args, &[])
    }

    /// [`Lab::up`] with extra environment variables (e.g. `AWS_SHARED_CREDENTIALS_FILE`).
    pub fn up_env(args: &[&str], env: &[(&str, &str)]) -> Lab {
        require_root();
        let dir = Path::new(sixfold_bin()).parent().expect("target dir");
        for b in ["sixfold-cni", "sixfold-egress-cni"] {
            assert!(
                dir.join(b).is_file(),
                "{b} is not built next to sixfold in {}; run `cargo build -p cni` first",
                dir.display()
            );
        }
        let name = Self::unique_name();
        let mut full = vec!["up", "--name", name.as_str()];
        full.extend_from_slice(args);
        let mut lab = Lab {
            name: name.clone(),
            up: Cli {
                code: -1,
                stdout: String::new(),
                stderr: String::new(),
            },
        };
        lab.up = sixfold_env(&full, env, UP_TIMEOUT);
        assert_eq!(
            lab.up.code, 0,
            "sixfold up failed:\n{}\n{}",
            lab.up.stdout, lab.up.stderr
        );
        lab
    }

    pub fn state_dir(&self) -> PathBuf {
        Path::new("/run/sixfold-lab").join(&self.name)
    }

    /// The state file as JSON.
    pub fn state(&self) -> Value {
        let text = std::fs::read(self.state_dir().join("lab.json")).expect("the lab's state file");
        serde_json::from_slice(&text).expect("the state is JSON")
    }

    /// The real AWS CLI against the lab's region: `aws --output json ARGS`.
    pub fn aws(&self, args: &[&str]) -> Cli {
        let s = self.state();
        let endpoint = s["region"]["endpoint"].as_str().expect("region endpoint");
        let creds = s["region"]["credentials"].as_str().expect("credentials");
        let mut cmd = Command::new(aws_binary());
        cmd.args([
            "--profile",
            "sixfold",
            "--region",
            "us-east-1",
            "--endpoint-url",
            endpoint,
            "--output",
            "json",
        ])
        .args(args)
        .env("AWS_SHARED_CREDENTIALS_FILE", creds)
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_PAGER", "")
        .env("AWS_MAX_ATTEMPTS", "1");
        run(cmd, CLI_TIMEOUT)
    }

    /// Poll the state until `ok` holds (at most `timeout`); returns that state, or panics
    /// naming `what` and the last state seen.
    pub fn wait_for(&self, what: &str, timeout: Duration, ok: impl Fn(&Value) -> bool) -> Value {
        let start = Instant::now();
        loop {
            let s = self.state();
            if ok(&s) {
                return s;
            }
            if start.elapsed() > timeout {
                let log = std::fs::read_to_string(self.state_dir().join("logs/reconciler.log"))
                    .unwrap_or_default();
                panic!(
                    "{what}: not within {timeout:?}; nodes {}, pods {}\nreconciler log:\n{log}",
                    s["nodes"], s["pods"]
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `sixfold lab-probe --connect ADDR` inside namespace `ns`: the line the far end answers.
    pub fn probe(&self, ns: &str, addr: &str) -> Cli {
        let mut cmd = Command::new("ip");
        cmd.args([
            "netns",
            "exec",
            ns,
            sixfold_bin(),
            "lab-probe",
            "--connect",
            addr,
        ]);
        run(cmd, Duration::from_secs(10))
    }

    /// The lab's namespaces that exist now.
    pub fn namespaces(&self) -> Vec<String> {
        let prefix = format!("sfl-{}-", self.name);
        let mut v: Vec<String> = std::fs::read_dir("/run/netns")
            .map(|rd| {
                rd.filter_map(|e| e.ok())
                    .filter_map(|e| e.file_name().into_string().ok())
                    .filter(|n| n.starts_with(&prefix))
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = sixfold(&["down", "--name", &self.name], CLI_TIMEOUT);
    }
}

/// Pids of processes that have every one of `args` among their arguments (e.g. a pod's name and
/// its lab's: other labs run pods of the same names).
pub fn pids_with_args(args: &[&str]) -> Vec<u32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(raw) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
            continue;
        };
        let argv: Vec<&[u8]> = raw.split(|b| *b == 0).collect();
        if args.iter().all(|a| argv.contains(&a.as_bytes())) {
            out.push(pid);
        }
    }
    out
}
