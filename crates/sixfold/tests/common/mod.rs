//! Shared harness of the end-to-end tests: start the real `sixfold serve` on a free loopback
//! port with its own data dir, run the real AWS CLI against it with a timeout, kill -9 and
//! restart the server. Everything started is killed by Drop, even when a test fails.

#![allow(dead_code)]

pub mod clients;
pub mod lab;
pub mod net;
pub mod query;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub const CLI_TIMEOUT: Duration = Duration::from_secs(60);

/// A running `sixfold serve`.
pub struct Server {
    pub child: Child,
    pub endpoint: String,
    pub data_dir: PathBuf,
    /// The network namespace the server (and the AWS CLI run by [`Server::aws`]) lives in;
    /// `None` is the caller's own.
    pub netns: Option<String>,
    /// Extra `sixfold serve` arguments, used again by [`Server::kill9_and_restart`].
    pub extra: Vec<String>,
    _tmp: Option<tempfile::TempDir>,
}

impl Server {
    /// Start on a fresh temporary data dir.
    pub fn start() -> Self {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("region");
        let mut s = Self::start_in(&dir, "127.0.0.1:0");
        s._tmp = Some(tmp);
        s
    }

    /// Start on `dir`, listening on `listen`.
    pub fn start_in(dir: &Path, listen: &str) -> Self {
        Self::spawn(dir, listen, None)
    }

    /// Start on `dir` with extra `sixfold serve` arguments.
    pub fn start_in_with(dir: &Path, extra: &[&str]) -> Self {
        Self::spawn_with(dir, "127.0.0.1:0", None, extra)
    }

    /// Start on a fresh temporary data dir with extra `sixfold serve` arguments.
    pub fn start_with(extra: &[&str]) -> Self {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("region");
        let mut s = Self::spawn_with(&dir, "127.0.0.1:0", None, extra);
        s._tmp = Some(tmp);
        s
    }

    /// Start on `dir` inside the network namespace `netns` (made by the caller, e.g. a lab's
    /// VPC router), listening on `listen` there. [`Server::aws`] then runs the CLI in it too.
    pub fn start_in_netns(netns: &str, dir: &Path, listen: &str) -> Self {
        Self::spawn(dir, listen, Some(netns))
    }

    fn spawn(dir: &Path, listen: &str, netns: Option<&str>) -> Self {
        Self::spawn_with(dir, listen, netns, &[])
    }

    fn spawn_with(dir: &Path, listen: &str, netns: Option<&str>, extra: &[&str]) -> Self {
        let mut cmd = match netns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns, env!("CARGO_BIN_EXE_sixfold")]);
                c
            }
            None => Command::new(env!("CARGO_BIN_EXE_sixfold")),
        };
        let mut child = cmd
            .args(["serve", "--listen", listen, "--data-dir"])
            .arg(dir)
            .args(extra)
            .env("SIXFOLD_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn sixfold serve");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut r = BufReader::new(stdout);
            let mut line = String::new();
            while r.read_line(&mut line).unwrap_or(0) > 0 {
                if let Some(i) = line.find("listening on ") {
                    let _ = tx.send(line[i + "listening on ".len()..].trim().to_string());
                }
                line.clear();
            }
        });
        let endpoint = match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(e) => e,
            Err(_) => {
                let _ = child.kill();
                panic!("sixfold serve did not print its address within 20 s");
            }
        };
        Self {
            child,
            endpoint,
            data_dir: dir.to_path_buf(),
            netns: netns.map(str::to_owned),
            extra: extra.iter().map(|a| a.to_string()).collect(),
            _tmp: None,
        }
    }

    /// `kill -9` the server and start it again on the same data dir and port.
    pub fn kill9_and_restart(&mut self) {
        self.child.kill().expect("kill -9");
        let _ = self.child.wait();
        let listen = self.endpoint.trim_start_matches("http://").to_string();
        let tmp = self._tmp.take();
        let extra: Vec<&str> = self.extra.iter().map(String::as_str).collect();
        let mut next = Self::spawn_with(&self.data_dir, &listen, self.netns.as_deref(), &extra);
        next._tmp = tmp;
        std::mem::swap(self, &mut next);
        // `next` now holds the dead child; dropping it is harmless.
    }

    pub fn credentials(&self) -> sigv4::Credentials {
        let text =
            std::fs::read_to_string(self.data_dir.join("credentials")).expect("credentials file");
        region_api::credentials::parse(&text, "sixfold").expect("sixfold profile")
    }

    /// `sixfold ARGS` as a client of this server: its endpoint, `us-east-1`, the `sixfold`
    /// profile of its credentials file (the caller's `AWS_*` keys removed), logging warnings only.
    pub fn sixfold(&self, args: &[&str]) -> Cli {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_sixfold"));
        cmd.args(args)
            .args([
                "--endpoint-url",
                &self.endpoint,
                "--region",
                "us-east-1",
                "--profile",
                "sixfold",
            ])
            .arg("--credentials-file")
            .arg(self.data_dir.join("credentials"))
            .env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY")
            .env("SIXFOLD_LOG", "warn");
        run(cmd, CLI_TIMEOUT)
    }

    /// Run the AWS CLI against this server: `aws --output json <args>`.
    pub fn aws(&self, args: &[&str]) -> Cli {
        self.aws_region("us-east-1", args)
    }

    pub fn aws_region(&self, region: &str, args: &[&str]) -> Cli {
        let mut cmd = match &self.netns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns]).arg(aws_binary());
                c
            }
            None => Command::new(aws_binary()),
        };
        cmd.args([
            "--profile",
            "sixfold",
            "--region",
            region,
            "--endpoint-url",
            &self.endpoint,
            "--output",
            "json",
        ])
        .args(args)
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            self.data_dir.join("credentials"),
        )
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_PAGER", "")
        .env("AWS_MAX_ATTEMPTS", "1")
        .env("AWS_RETRY_MODE", "standard");
        run(cmd, CLI_TIMEOUT)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub use test_support::aws::{aws_binary, s};
pub use test_support::{Cli, run};
