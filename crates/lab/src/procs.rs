//! The lab's background processes: started detached (own process group, stdio to a log file),
//! inside a namespace by spawning from a [`NetNs`] thread (a child inherits the namespace of the
//! thread that forks it), and ended only by recorded pid after checking `/proc/PID/cmdline`.

use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use dataplane::netns::NetNs;

use crate::error::{LabError, Result};
use crate::state::Process;

/// Start `argv` in the background (in `ns` when given), stdout and stderr appended to `log`.
/// The child gets its own process group so a Ctrl-C of `up` does not reach it.
pub fn spawn(role: &str, ns: Option<&NetNs>, argv: &[String], log: &Path) -> Result<Process> {
    spawn_env(role, ns, argv, &[], log)
}

/// [`spawn`] with the environment changed: each `(name, Some(value))` set, `(name, None)`
/// removed.
pub fn spawn_env(
    role: &str,
    ns: Option<&NetNs>,
    argv: &[String],
    env: &[(String, Option<String>)],
    log: &Path,
) -> Result<Process> {
    let (program, args) = argv.split_first().ok_or_else(|| LabError::Command {
        what: format!("starting {role}"),
        detail: "empty command line".into(),
    })?;
    let out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .map_err(LabError::io("opening a log file", log))?;
    let err = out
        .try_clone()
        .map_err(LabError::io("opening a log file", log))?;
    let mut cmd = Command::new(program);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .process_group(0);
    for (k, v) in env {
        match v {
            Some(v) => cmd.env(k, v),
            None => cmd.env_remove(k),
        };
    }
    let spawned = match ns {
        Some(ns) => ns
            .run(move || cmd.spawn())
            .map_err(LabError::dp(format!("entering the namespace of {role}")))?,
        None => cmd.spawn(),
    };
    let child = spawned.map_err(|source| LabError::Io {
        what: "starting a lab process",
        path: PathBuf::from(program),
        source,
    })?;
    // The child is not waited for: it outlives `up` and is reparented to init.
    Ok(Process {
        role: role.to_owned(),
        pid: child.id(),
        argv: argv.to_vec(),
        log: log.to_owned(),
    })
}

/// `/proc/PID/cmdline` as argv, or `None` if the process is gone.
pub fn cmdline(pid: u32) -> Option<Vec<String>> {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    if raw.is_empty() {
        return None; // a zombie or kernel thread
    }
    Some(
        raw.split(|b| *b == 0)
            .filter(|s| !s.is_empty())
            .map(|s| String::from_utf8_lossy(s).into_owned())
            .collect(),
    )
}

/// Whether `p` is still the very process the lab started (same pid, same argv).
pub fn is_ours(p: &Process) -> bool {
    cmdline(p.pid).is_some_and(|argv| argv == p.argv)
}

/// Whether `pid` still exists (and is not a zombie).
pub fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X"),
        Err(_) => false,
    }
}

fn signal(pid: u32, sig: libc::c_int) {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return;
    };
    if pid <= 1 {
        return;
    }
    // SAFETY: kill(2) with a positive pid only sends a signal; no memory is touched.
    unsafe {
        libc::kill(pid, sig);
    }
}

/// End the given pids: SIGTERM, wait up to `grace`, then SIGKILL whatever is left and wait
/// (bounded) for it to disappear. The caller has checked each pid is the lab's.
pub fn end(pids: &[u32], grace: Duration) {
    for &pid in pids {
        signal(pid, libc::SIGTERM);
    }
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline && pids.iter().any(|&p| alive(p)) {
        std::thread::sleep(Duration::from_millis(10));
    }
    let left: Vec<u32> = pids.iter().copied().filter(|&p| alive(p)).collect();
    for &pid in &left {
        signal(pid, libc::SIGKILL);
    }
    let deadline = Instant::now() + Duration::from_secs(2);
    while Instant::now() < deadline && left.iter().any(|&p| alive(p)) {
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Processes whose network namespace is one of `netns_paths` (what `ip netns pids` reports):
/// only the lab's processes live in the lab's namespaces.
pub fn in_namespaces(netns_paths: &[PathBuf]) -> Vec<u32> {
    use std::os::unix::fs::MetadataExt;
    let ids: Vec<(u64, u64)> = netns_paths
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| (m.dev(), m.ino()))
        .collect();
    if ids.is_empty() {
        return Vec::new();
    }
    let mut out = Vec::new();
    let me = std::process::id();
    for pid in all_pids() {
        if pid == me {
            continue;
        }
        if let Ok(m) = std::fs::metadata(format!("/proc/{pid}/ns/net"))
            && ids.contains(&(m.dev(), m.ino()))
        {
            out.push(pid);
        }
    }
    out
}

/// Processes (in any namespace) whose command line mentions `needle` (the lab's state dir):
/// the region and the forwarder live in the root namespace.
pub fn mentioning(needle: &str, exe_name: &str) -> Vec<u32> {
    let me = std::process::id();
    all_pids()
        .into_iter()
        .filter(|&p| p != me)
        .filter(|&p| {
            cmdline(p).is_some_and(|argv| {
                argv.first().is_some_and(|a| a.ends_with(exe_name))
                    && argv.iter().any(|a| a.contains(needle))
            })
        })
        .collect()
}

fn all_pids() -> Vec<u32> {
    std::fs::read_dir("/proc")
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter_map(|e| e.file_name().to_str().and_then(|s| s.parse().ok()))
                .collect()
        })
        .unwrap_or_default()
}

/// The path of the running executable (for starting `sixfold` subcommands).
pub fn current_exe() -> Result<PathBuf> {
    std::env::current_exe().map_err(LabError::io(
        "finding the sixfold executable",
        "/proc/self/exe",
    ))
}

/// Wait until `ready()` is true, polling every few milliseconds, at most `timeout`.
pub fn wait_for(
    what: &str,
    timeout: Duration,
    logs: &Path,
    mut ready: impl FnMut() -> bool,
) -> Result<()> {
    let start = Instant::now();
    let mut delay = Duration::from_millis(2);
    loop {
        if ready() {
            return Ok(());
        }
        if start.elapsed() >= timeout {
            return Err(LabError::Timeout {
                what: what.to_owned(),
                waited: timeout,
                logs: logs.to_owned(),
            });
        }
        std::thread::sleep(delay);
        delay = (delay * 2).min(Duration::from_millis(50));
    }
}

/// Strings for an argv.
pub fn argv<I, S>(parts: I) -> Vec<String>
where
    I: IntoIterator<Item = S>,
    S: Into<OsString>,
{
    parts
        .into_iter()
        .map(|s| s.into().to_string_lossy().into_owned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_cmdline_is_read_back() {
        let me = cmdline(std::process::id()).unwrap();
        assert!(!me.is_empty());
        let p = Process {
            role: "test".into(),
            pid: std::process::id(),
            argv: me.clone(),
            log: PathBuf::new(),
        };
        assert!(is_ours(&p));
        let other = Process {
            argv: vec!["something-else".into()],
            ..p
        };
        assert!(!is_ours(&other), "a different argv is not ours");
    }

    #[test]
    fn spawned_processes_are_ended() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("sleep.log");
        let p = spawn("sleep", None, &argv(["sleep", "30"]), &log).unwrap();
        // spawn returns once exec has begun; the new command line appears a moment later.
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while !is_ours(&p) && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(is_ours(&p));
        end(&[p.pid], Duration::from_secs(2));
        assert!(!alive(p.pid) || !is_ours(&p));
    }
}
