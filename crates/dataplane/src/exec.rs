//! Running a helper binary (`nft`, an IPAM plugin) with input on stdin and a deadline. The
//! child is killed when the deadline passes; no polling loop.
use std::io::{self, Read, Write};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// What a finished child left behind.
#[derive(Debug)]
pub struct Output {
    pub status: ExitStatus,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

/// Why a run failed before producing an [`Output`].
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    #[error("cannot start {program}: {source}")]
    Spawn {
        program: String,
        #[source]
        source: io::Error,
    },
    #[error("{program} did not finish within {timeout:?} and was killed")]
    Timeout { program: String, timeout: Duration },
    #[error("waiting for {program}: {source}")]
    Wait {
        program: String,
        #[source]
        source: io::Error,
    },
}

/// Run `cmd` with `stdin` as its input; kill it after `timeout`.
pub fn run(cmd: Command, stdin: &[u8], timeout: Duration) -> Result<Output, ExecError> {
    let name = cmd.get_program().to_string_lossy().into_owned();
    crate::trace::span(|| format!("exec {name}"), || run_(cmd, stdin, timeout))
}

fn run_(mut cmd: Command, stdin: &[u8], timeout: Duration) -> Result<Output, ExecError> {
    let program = cmd.get_program().to_string_lossy().into_owned();
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(|source| ExecError::Spawn {
        program: program.clone(),
        source,
    })?;
    let pid = child.id();
    // A pidfd names this very process even after it is reaped, so the kill below can never hit
    // a recycled pid. Kernels before 5.3 lack it: then fall back to the pid.
    // SAFETY: pidfd_open(2) takes a pid and flags and returns a new descriptor or -1.
    let pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) } as i32;
    let pidfd = (pidfd >= 0).then(|| {
        // SAFETY: a fresh descriptor returned by pidfd_open that nothing else owns.
        unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(pidfd) }
    });
    let input = stdin.to_vec();
    let mut child_in = child.stdin.take();
    let writer = std::thread::spawn(move || {
        if let Some(w) = child_in.as_mut() {
            // A child that exits without reading its input is not an error here.
            let _ = w.write_all(&input);
        }
    });
    let mut out_pipe = child.stdout.take();
    let mut err_pipe = child.stderr.take();
    let out_reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        if let Some(r) = out_pipe.as_mut() {
            let _ = r.read_to_end(&mut v);
        }
        v
    });
    let err_reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        if let Some(r) = err_pipe.as_mut() {
            let _ = r.read_to_end(&mut v);
        }
        v
    });
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait());
    });
    let status = match rx.recv_timeout(timeout) {
        Ok(Ok(status)) => status,
        Ok(Err(source)) => return Err(ExecError::Wait { program, source }),
        Err(_) => {
            match &pidfd {
                // SAFETY: pidfd_send_signal(2) on our own pidfd with no siginfo; harmless
                // (ESRCH) if the child has exited meanwhile.
                Some(fd) => unsafe {
                    libc::syscall(
                        libc::SYS_pidfd_send_signal,
                        std::os::fd::AsRawFd::as_raw_fd(fd),
                        libc::SIGKILL,
                        std::ptr::null::<libc::siginfo_t>(),
                        0,
                    );
                },
                // SAFETY: kill(2) on the child's pid; only reached without pidfd support,
                // where the tiny reap-then-reuse window is accepted.
                None => unsafe {
                    libc::kill(pid as libc::pid_t, libc::SIGKILL);
                },
            }
            return Err(ExecError::Timeout { program, timeout });
        }
    };
    let _ = writer.join();
    let stdout = out_reader.join().unwrap_or_default();
    let stderr = err_reader.join().unwrap_or_default();
    Ok(Output {
        status,
        stdout,
        stderr,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collects_output_of_a_quick_child() {
        let out = run(Command::new("cat"), b"hello", Duration::from_secs(10)).unwrap();
        assert!(out.status.success());
        assert_eq!(out.stdout, b"hello");
    }

    #[test]
    fn kills_a_child_past_its_deadline() {
        let mut cmd = Command::new("sleep");
        cmd.arg("30");
        let err = run(cmd, b"", Duration::from_millis(100)).unwrap_err();
        assert!(matches!(err, ExecError::Timeout { .. }), "{err}");
    }
}
