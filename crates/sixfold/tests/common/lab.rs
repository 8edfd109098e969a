//! A lab for a root end-to-end test: `sixfold up` under a unique name (`t<pid>l<n>`), the
//! lab's own commands (`sixfold ARGS --name LAB`, `exec`, `status`, `pod list` as JSON), the
//! real AWS CLI pointed at the lab's own region (endpoint and credentials from its state, or the
//! environment `status --env` prints), probes from inside its namespaces, and `sixfold down` in
//! Drop, even when the test fails (unless the test ran `down` itself).

use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::{CLI_TIMEOUT, Cli, aws_binary, run};

/// How long `sixfold up` of a small lab may take.
pub const UP_TIMEOUT: Duration = Duration::from_secs(180);
/// How long any other `sixfold` command of a lab (`pod run`, `down`, `service expose`) may take.
pub const LAB_CMD_TIMEOUT: Duration = Duration::from_secs(90);

/// Fail (never skip) unless running as root.
pub fn require_root() {
    test_support::require_root("`sixfold up` creates network namespaces");
}

/// Fail unless both CNI plugins are built next to `sixfold`, where `up` runs them from.
pub fn require_plugins() {
    let dir = Path::new(sixfold_bin()).parent().expect("target dir");
    for b in ["sixfold-cni", "sixfold-egress-cni"] {
        assert!(
            dir.join(b).is_file(),
            "{b} is not built next to sixfold in {}; run the tests with --workspace (or `cargo build -p cni` first)",
            dir.display()
        );
    }
}

/// The `sixfold` binary under test.
pub fn sixfold_bin() -> &'static str {
    env!("CARGO_BIN_EXE_sixfold")
}

/// Run `sixfold ARGS` with a timeout.
pub fn sixfold(args: &[&str], timeout: Duration) -> Cli {
    sixfold_env(args, &[], timeout)
}

/// Run `sixfold ARGS` with extra environment variables and a timeout. It logs at `info`
/// whatever the caller's `SIXFOLD_LOG` says (the daemons it starts inherit that, and tests read
/// their logs).
pub fn sixfold_env(args: &[&str], env: &[(&str, &str)], timeout: Duration) -> Cli {
    let mut cmd = Command::new(sixfold_bin());
    cmd.args(args)
        .env("SIXFOLD_LOG", "info")
        .envs(env.iter().copied());
    run(cmd, timeout)
}

/// One lab; removed with `sixfold down` when dropped, unless [`Lab::down`] already ran.
pub struct Lab {
    pub name: String,
    /// What `sixfold up` printed (empty until it ran).
    pub up: Cli,
    downed: bool,
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

    /// A lab name reserved for this test, nothing built yet: for tests of `up` itself (its
    /// refusals, a crash half-way). Drop still runs `down`.
    pub fn named() -> Lab {
        require_root();
        Lab {
            name: Self::unique_name(),
            up: Cli {
                code: -1,
                stdout: String::new(),
                stderr: String::new(),
            },
            downed: false,
        }
    }

    /// `sixfold up --name LAB ARGS`, whatever it answers (and kept in [`Lab::up`]). The lab
    /// counts as up again for Drop.
    pub fn try_up(&mut self, args: &[&str]) -> &Cli {
        self.try_up_env(args, &[])
    }

    /// [`Lab::try_up`] with extra environment variables.
    pub fn try_up_env(&mut self, args: &[&str], env: &[(&str, &str)]) -> &Cli {
        let mut full = vec!["up", "--name", self.name.as_str()];
        full.extend_from_slice(args);
        let out = sixfold_env(&full, env, UP_TIMEOUT);
        self.downed = false;
        self.up = out;
        &self.up
    }

    /// `sixfold up --name <unique> ARGS`; panics with its output if it fails (the lab is
    /// removed all the same).
    pub fn up(args: &[&str]) -> Lab {
        Self::up_env(args, &[])
    }

    /// [`Lab::up`] with extra environment variables (e.g. `AWS_SHARED_CREDENTIALS_FILE`).
    pub fn up_env(args: &[&str], env: &[(&str, &str)]) -> Lab {
        require_root();
        require_plugins();
        let mut lab = Self::named();
        let up = lab.try_up_env(args, env);
        assert_eq!(
            up.code, 0,
            "sixfold up failed:\n{}\n{}",
            up.stdout, up.stderr
        );
        lab
    }

    /// `sixfold down --name LAB` now; Drop does not run it again.
    pub fn down(&mut self) -> Cli {
        self.downed = true;
        sixfold(&["down", "--name", &self.name], LAB_CMD_TIMEOUT)
    }

    /// `sixfold ARGS --name LAB`.
    pub fn cmd(&self, args: &[&str]) -> Cli {
        let mut a = args.to_vec();
        a.extend(["--name", &self.name]);
        sixfold(&a, LAB_CMD_TIMEOUT)
    }

    /// `sixfold exec POD --name LAB -- CMD...`.
    pub fn exec(&self, pod: &str, cmd: &[&str]) -> Cli {
        let mut a = vec!["exec", pod, "--name", &self.name, "--"];
        a.extend_from_slice(cmd);
        sixfold(&a, LAB_CMD_TIMEOUT)
    }

    /// `sixfold status --output json`, parsed; panics when it fails.
    pub fn status(&self) -> Value {
        let out = self.cmd(&["status", "--output", "json"]);
        assert!(out.ok(), "status failed: {}", out.stderr);
        serde_json::from_str(&out.stdout).expect("status --output json prints JSON")
    }

    /// `sixfold pod list --output json`: the pods (the answer names this lab).
    pub fn pods(&self) -> Vec<Value> {
        let out = self.cmd(&["pod", "list", "--output", "json"]);
        assert!(out.ok(), "pod list failed: {}", out.stderr);
        let v: Value =
            serde_json::from_str(&out.stdout).expect("pod list --output json prints JSON");
        assert_eq!(v["lab"], self.name.as_str());
        v["pods"].as_array().expect("a pods list").clone()
    }

    /// The pod `name` of [`Lab::pods`]; panics when it is not listed.
    pub fn pod(&self, name: &str) -> Value {
        self.pods()
            .into_iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("pod {name} is not listed"))
    }

    /// The environment `sixfold status --env` exports for the AWS CLI.
    pub fn aws_env(&self) -> Vec<(String, String)> {
        let out = self.cmd(&["status", "--env"]);
        assert!(out.ok(), "status --env failed: {}", out.stderr);
        out.stdout
            .lines()
            .map(|l| {
                let kv = l
                    .strip_prefix("export ")
                    .unwrap_or_else(|| panic!("not an export line: {l}"));
                let (k, v) = kv
                    .split_once('=')
                    .unwrap_or_else(|| panic!("not NAME=VALUE: {l}"));
                (k.to_owned(), v.trim_matches('\'').to_owned())
            })
            .collect()
    }

    /// The real AWS CLI configured by [`Lab::aws_env`] alone (no `--endpoint-url`, no
    /// `--profile`): `aws ARGS --output json`.
    pub fn aws_by_env(&self, args: &[&str]) -> Cli {
        let mut cmd = Command::new(aws_binary());
        cmd.args(args)
            .args(["--output", "json"])
            .envs(self.aws_env());
        run(cmd, CLI_TIMEOUT)
    }

    /// `/run/sixfold-lab/LAB`.
    pub fn state_dir(&self) -> PathBuf {
        Path::new("/run/sixfold-lab").join(&self.name)
    }

    /// The state file as JSON.
    pub fn state(&self) -> Value {
        let text = std::fs::read(self.state_dir().join("lab.json")).expect("the lab's state file");
        serde_json::from_slice(&text).expect("the state is JSON")
    }

    /// The state file, typed.
    pub fn lab_state(&self) -> ::lab::LabState {
        ::lab::status::load(&self.name, &self.state_dir()).expect("the lab's state")
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
        probe_in(ns, addr)
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

    /// Processes whose command line names this lab (`--lab LAB`) or its state dir: `pid: argv`.
    pub fn processes(&self) -> Vec<String> {
        let dir = self.state_dir().display().to_string();
        proc_cmdlines()
            .into_iter()
            .filter(|(_, argv)| {
                argv.windows(2)
                    .any(|w| w[0] == "--lab" && w[1] == self.name)
                    || argv.iter().any(|a| a.contains(&dir))
            })
            .map(|(pid, argv)| format!("{pid}: {}", argv.join(" ")))
            .collect()
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        if !self.downed {
            let _ = self.down();
        }
    }
}

/// `sixfold lab-probe --connect ADDR` inside namespace `ns` (10 s at most).
pub fn probe_in(ns: &str, addr: &str) -> Cli {
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

/// Every process's pid and arguments (those that vanish while read are left out).
fn proc_cmdlines() -> Vec<(u32, Vec<String>)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(raw) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
            continue;
        };
        let argv = raw
            .split(|b| *b == 0)
            .map(|s| String::from_utf8_lossy(s).into_owned())
            .collect();
        out.push((pid, argv));
    }
    out
}

/// Pids of processes that have every one of `args` among their arguments (e.g. a pod's name and
/// its lab's: other labs run pods of the same names).
pub fn pids_with_args(args: &[&str]) -> Vec<u32> {
    proc_cmdlines()
        .into_iter()
        .filter(|(_, argv)| args.iter().all(|a| argv.iter().any(|x| x == a)))
        .map(|(pid, _)| pid)
        .collect()
}

/// The IPv6 address at `v` (a pod's, a node's, a ClusterIP of the lab's JSON); panics naming `v`.
pub fn v6(v: &Value) -> Ipv6Addr {
    v.as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("{v} is not an IPv6 address"))
}

/// The IPv4 address at `v`; panics naming `v`.
pub fn v4(v: &Value) -> Ipv4Addr {
    v.as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("{v} is not an IPv4 address"))
}
