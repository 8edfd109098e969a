//! Per-step timings of one process (a plugin run), for `bench/cni.sh`'s breakdown. Off unless
//! the environment variable [`ENV`] names a file; then every [`span`] (netlink requests, sysctl
//! writes, namespace switches, helper execs, and the plugins' own steps) is recorded, and
//! [`flush`] appends one JSON line to that file. When off, a span costs one load of a
//! `OnceLock`.
use std::cell::Cell;
use std::io::Write;
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

/// Names the file the timings are appended to.
pub const ENV: &str = "SIXFOLD_CNI_TRACE";

struct State {
    file: String,
    steps: Mutex<Vec<(String, usize, f64)>>,
}

static STATE: OnceLock<Option<State>> = OnceLock::new();
thread_local! {
    /// Nesting depth of this thread's open spans (a namespace thread starts at its caller's).
    static DEPTH: Cell<usize> = const { Cell::new(0) };
    /// Set on threads that run beside the plugin's main line (see [`parallel`]).
    static PARALLEL: Cell<bool> = const { Cell::new(false) };
}

fn state() -> Option<&'static State> {
    STATE
        .get_or_init(|| {
            std::env::var(ENV)
                .ok()
                .filter(|f| !f.is_empty())
                .map(|file| State {
                    file,
                    steps: Mutex::new(Vec::new()),
                })
        })
        .as_ref()
}

/// Whether tracing is on for this process.
pub fn enabled() -> bool {
    state().is_some()
}

/// The monotonic clock (`CLOCK_MONOTONIC`, the clock of Python's `time.perf_counter` on
/// Linux) in seconds, so a benchmark can relate a process's own times to its spawn.
pub fn monotonic_s() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 / 1e9
}

/// Run `f`, recording how long it took under `label` (when tracing is on).
pub fn span<T>(label: impl FnOnce() -> String, f: impl FnOnce() -> T) -> T {
    let Some(st) = state() else {
        return f();
    };
    let depth = DEPTH.with(|d| d.replace(d.get() + 1));
    let t = Instant::now();
    let out = f();
    let ms = t.elapsed().as_secs_f64() * 1000.0;
    DEPTH.with(|d| d.set(depth));
    let label = if PARALLEL.with(Cell::get) {
        format!("[beside] {}", label())
    } else {
        label()
    };
    if let Ok(mut s) = st.steps.lock() {
        s.push((label, depth, ms));
    }
    out
}

/// The calling thread's span depth, to hand to a thread that runs while the caller waits
/// ([`set_depth`] there), so its spans nest under the caller's.
pub fn depth() -> usize {
    DEPTH.with(Cell::get)
}

/// See [`depth`].
pub fn set_depth(depth: usize) {
    DEPTH.with(|d| d.set(depth));
}

/// Mark the calling thread as running beside the main line (its time overlaps the main
/// line's): its spans are labelled `[beside]` and counted as nested, never as top-level time.
pub fn parallel() {
    PARALLEL.with(|p| p.set(true));
    DEPTH.with(|d| d.set(d.get().max(1)));
}

/// Append this process's record (`{"what", "t_start", "t_end", "steps": [[label, depth, ms]]}`,
/// times on [`monotonic_s`]) to the trace file. Best effort: a benchmark aid never fails a run.
pub fn flush(what: &str, t_start: f64) {
    let Some(st) = state() else { return };
    let steps = st.steps.lock().map(|s| s.clone()).unwrap_or_default();
    let mut line = format!(
        "{{\"what\":\"{}\",\"t_start\":{t_start},\"t_end\":{},\"steps\":[",
        what.escape_default(),
        monotonic_s()
    );
    for (i, (label, depth, ms)) in steps.iter().enumerate() {
        if i > 0 {
            line.push(',');
        }
        line.push_str(&format!("[\"{}\",{depth},{ms:.4}]", label.escape_default()));
    }
    line.push_str("]}\n");
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&st.file)
    {
        let _ = f.write_all(line.as_bytes());
    }
}
