//! Running a command the way a test must: with a deadline (the child is killed when it passes),
//! its output captured, and a failure that says what ran and what it printed.

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Deadline of [`sh`] and [`try_sh`]: far above what `ip`, `nft` or `sysctl` take.
pub const SH_TIMEOUT: Duration = Duration::from_secs(30);

/// The outcome of one command run to its end.
#[derive(Debug)]
pub struct Cli {
    /// The exit code (`-1` when a signal ended it).
    pub code: i32,
    /// Everything it printed on stdout.
    pub stdout: String,
    /// Everything it printed on stderr.
    pub stderr: String,
}

impl Cli {
    /// Whether it exited 0.
    pub fn ok(&self) -> bool {
        self.code == 0
    }

    /// Parsed stdout (`Null` when empty); panics (with stderr) when the command failed or
    /// stdout is not JSON.
    pub fn json(&self) -> serde_json::Value {
        assert_eq!(self.code, 0, "command failed: {}", self.stderr);
        if self.stdout.trim().is_empty() {
            return serde_json::Value::Null;
        }
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.stdout))
    }

    /// Assert the command failed with the AWS error `code` (the CLI prints `(Code)`) and a
    /// message containing `needle`.
    pub fn fails_with(&self, code: &str, needle: &str) {
        assert_ne!(
            self.code, 0,
            "expected {code}, but it succeeded: {}",
            self.stdout
        );
        assert!(
            self.stderr.contains(&format!("({code})")),
            "expected error code {code}, got: {}",
            self.stderr
        );
        assert!(
            self.stderr.contains(needle),
            "expected the message to mention {needle:?}, got: {}",
            self.stderr
        );
    }
}

/// Run `cmd` (stdin empty) until it exits; past `timeout` it is killed and the test panics
/// naming the command.
pub fn run(cmd: Command, timeout: Duration) -> Cli {
    run_with_input(cmd, b"", timeout)
}

/// [`run`] with `stdin` written to the command's standard input (a CNI plugin's config, a
/// signed request), then closed.
pub fn run_with_input(mut cmd: Command, stdin: &[u8], timeout: Duration) -> Cli {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .stdin(if stdin.is_empty() {
            Stdio::null()
        } else {
            Stdio::piped()
        })
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
    if let Some(mut pipe) = child.stdin.take() {
        let input = stdin.to_vec();
        // A writer of its own: a child that does not read its input must not stall the test
        // past the deadline. Dropping the pipe at the end closes the child's stdin.
        std::thread::spawn(move || {
            let _ = pipe.write_all(&input);
        });
    }
    let mut out = child.stdout.take().expect("stdout is piped");
    let mut err = child.stderr.take().expect("stderr is piped");
    // Output that is not UTF-8 (a tool's binary dump) is kept, lossily, rather than dropped.
    let t_out = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = out.read_to_end(&mut b);
        String::from_utf8_lossy(&b).into_owned()
    });
    let t_err = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = err.read_to_end(&mut b);
        String::from_utf8_lossy(&b).into_owned()
    });
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait for the child") {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("command timed out after {timeout:?}: {cmd:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    Cli {
        code: status.code().unwrap_or(-1),
        stdout: t_out.join().unwrap_or_default(),
        stderr: t_err.join().unwrap_or_default(),
    }
}

/// Run `args` (program first) within [`SH_TIMEOUT`]: (success, stdout, stderr).
pub fn try_sh(args: &[&str]) -> (bool, String, String) {
    let mut cmd = Command::new(args[0]);
    cmd.args(&args[1..]);
    let out = run(cmd, SH_TIMEOUT);
    (out.ok(), out.stdout, out.stderr)
}

/// Run `args` (program first) within [`SH_TIMEOUT`] and answer its stdout; panics with its
/// stderr when it fails.
pub fn sh(args: &[&str]) -> String {
    let (ok, stdout, stderr) = try_sh(args);
    assert!(ok, "{args:?} failed: {stderr}");
    stdout
}

/// Fail loudly (never skip) when not root; `why` says what the test does that needs it.
pub fn require_root(why: &str) {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let euid = unsafe { libc::geteuid() };
    assert_eq!(
        euid, 0,
        "this test needs root: {why}; run the suite as root (e.g. `sudo -E cargo nextest run`)"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_command_past_its_deadline_is_killed_and_named() {
        let started = Instant::now();
        let r = std::panic::catch_unwind(|| {
            let mut cmd = Command::new("sleep");
            cmd.arg("5");
            run(cmd, Duration::from_millis(100))
        });
        let msg = *r.expect_err("timed out").downcast::<String>().unwrap();
        assert!(msg.contains("timed out") && msg.contains("sleep"), "{msg}");
        assert!(started.elapsed() < Duration::from_secs(4));
    }

    #[test]
    fn output_and_exit_code_are_captured() {
        let (ok, out, err) = try_sh(&["sh", "-c", "echo out; echo err >&2; exit 3"]);
        assert!(!ok);
        assert_eq!((out.as_str(), err.as_str()), ("out\n", "err\n"));
        assert_eq!(sh(&["echo", "hi"]), "hi\n");
    }

    #[test]
    fn input_reaches_the_command_and_is_closed() {
        let out = run_with_input(Command::new("cat"), b"a plugin's config", SH_TIMEOUT);
        assert!(out.ok());
        assert_eq!(out.stdout, "a plugin's config");
    }

    #[test]
    fn fails_with_checks_the_code_and_the_message() {
        let c = Cli {
            code: 254,
            stdout: String::new(),
            stderr: "An error occurred (InvalidVpcID.NotFound) when calling ...: vpc-1".into(),
        };
        c.fails_with("InvalidVpcID.NotFound", "vpc-1");
        assert!(std::panic::catch_unwind(|| c.fails_with("Other", "vpc-1")).is_err());
    }
}
