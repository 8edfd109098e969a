//! The reconciler: a lab's dataplane follows its region. `sixfold lab-reconcile --name LAB`
//! (started by `up`, recorded in the state's processes, ended by `down`) follows the region's
//! change feed and, on every batch of changes, calls [`converge`], which brings each area of the
//! dataplane to what the region says, in order: node groups ([`crate::nodes::sync`]), then
//! security groups and routes, then load balancers. Every area's `sync` is idempotent and cheap
//! when nothing changed; it runs with the state locked ([`LabState::update`]), so `sixfold pod
//! ...` and the other writers never interleave with a half-done convergence.
//!
//! Missed nothing: the reconciler reads the region's revision, converges once, then watches from
//! that revision; a broken watch is resumed with a fresh revision and another full converge.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use ec2_client::feed::{FeedClient, FeedError, FeedEvent};

use crate::error::{LabError, Result};
use crate::plan::Names;
use crate::procs;
use crate::region::{self, Api};
use crate::state::{LabState, Process};

/// The watch's heartbeat: how soon a silent region is noticed and a downed lab is seen gone.
const HEARTBEAT: Duration = Duration::from_secs(1);
/// After a change arrives, how long to wait for the rest of its batch (the rows of one API
/// call, or a burst of calls) before converging.
const SETTLE: Duration = Duration::from_millis(15);
/// At most this long is spent gathering one batch, however busy the region is.
const MAX_BATCH: Duration = Duration::from_millis(150);
/// Wait between reconnect attempts to a region that does not answer.
const RETRY: Duration = Duration::from_millis(500);
/// After a failed converge, the first retry comes this soon (on the next heartbeat), and every
/// further one twice as late, up to [`MAX_RETRY`].
const FIRST_RETRY: Duration = Duration::from_secs(1);
const MAX_RETRY: Duration = Duration::from_secs(30);
/// A region that stays unreachable this long (the lab's region was ended) ends the reconciler.
const GIVE_UP: Duration = Duration::from_secs(60);

/// What every area's `sync` gets: the lab, its region, where the binaries are, and where to
/// report what it changed.
pub struct Ctx {
    /// The lab's name.
    pub name: String,
    /// Its namespace names.
    pub names: Names,
    pub state_dir: PathBuf,
    /// The region, through its APIs.
    pub api: Api,
    /// The `sixfold` executable (agents, responders).
    pub exe: PathBuf,
    /// Where `sixfold-cni` and `sixfold-egress-cni` are.
    pub bin_dir: PathBuf,
    /// Where progress lines go (the reconciler's log).
    pub out: Box<dyn Write + Send>,
    /// The security-group rulesets last applied (so unchanged ones are not rewritten).
    pub policy: crate::policy::Memo,
}

impl std::fmt::Debug for Ctx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ctx")
            .field("name", &self.name)
            .field("state_dir", &self.state_dir)
            .field("endpoint", &self.api.info.endpoint)
            .finish_non_exhaustive()
    }
}

impl Ctx {
    /// A context for the running lab `name` (its region from the state file).
    pub fn for_lab(name: &str, state_dir: &Path, bin_dir: Option<PathBuf>) -> Result<Ctx> {
        let state = crate::status::load(name, state_dir)?;
        let info = state.region.ok_or_else(|| LabError::Command {
            what: format!("reconciling lab {name}"),
            detail: "its state records no region; remove it with `sixfold down` and start again"
                .into(),
        })?;
        let exe = procs::current_exe()?;
        let bin_dir = match bin_dir {
            Some(d) => d,
            None => exe
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_else(|| PathBuf::from(".")),
        };
        Ok(Ctx {
            name: name.to_owned(),
            names: Names::new(name)?,
            state_dir: state_dir.to_owned(),
            api: Api::connect(&info)?,
            exe,
            bin_dir,
            out: Box::new(std::io::stdout()),
            policy: crate::policy::Memo::default(),
        })
    }

    /// One progress line.
    pub fn say(&mut self, msg: impl AsRef<str>) {
        let _ = writeln!(self.out, "{}", msg.as_ref());
        let _ = self.out.flush();
    }

    /// The log file for a process the reconciler starts.
    pub fn log(&self, name: &str) -> PathBuf {
        self.state_dir.join("logs").join(format!("{name}.log"))
    }
}

/// How long each area of one [`converge`] took (its log line carries them, so a slow
/// convergence shows where the time went).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Timings {
    pub nodes: Duration,
    pub policy: Duration,
    pub lb: Duration,
}

impl std::fmt::Display for Timings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "nodes {} ms, policy {} ms, load balancers {} ms",
            self.nodes.as_millis(),
            self.policy.as_millis(),
            self.lb.as_millis()
        )
    }
}

/// Bring the whole dataplane to what the region says, once: each area's sync in order, with
/// the state locked. Every area runs even if an earlier one failed (the errors are reported
/// together); the state is saved either way, since it records what exists.
pub fn converge(ctx: &mut Ctx) -> Result<Timings> {
    let (name, dir) = (ctx.name.clone(), ctx.state_dir.clone());
    LabState::update(&name, &dir, |state| {
        let mut errors = Vec::new();
        let mut t = Timings::default();
        // Nodes first: the later areas filter and balance over the nodes and pods it leaves.
        let start = Instant::now();
        if let Err(e) = crate::nodes::sync(ctx, state) {
            errors.push(format!("nodes: {e}"));
        }
        t.nodes = start.elapsed();
        // Then route tables and security groups, over the nodes and pods that now exist.
        let start = Instant::now();
        let mut memo = std::mem::take(&mut ctx.policy);
        match crate::policy::sync(&ctx.api, state, &mut memo) {
            Ok(r) => {
                for c in r.changed.iter().chain(r.problems.iter()) {
                    ctx.say(format!("policy: {c}"));
                }
            }
            Err(e) => errors.push(format!("policy: {e}")),
        }
        ctx.policy = memo;
        t.policy = start.elapsed();
        // Load balancers last: their target groups follow the pods the areas above leave.
        let start = Instant::now();
        if let Err(e) = crate::lb::sync(state) {
            errors.push(format!("load balancers: {e}"));
        }
        t.lb = start.elapsed();
        if errors.is_empty() {
            Ok(t)
        } else {
            Err(LabError::Command {
                what: "converging the lab".into(),
                detail: errors.join("; "),
            })
        }
    })
}

/// Start the reconciler of lab `name` in the background (root namespace: it talks to the
/// region on loopback and enters namespaces itself).
pub fn spawn(
    exe: &Path,
    name: &str,
    state_dir: &Path,
    bin_dir: &Path,
    log: &Path,
) -> Result<Process> {
    let argv = procs::argv([
        exe.as_os_str(),
        "lab-reconcile".as_ref(),
        "--name".as_ref(),
        name.as_ref(),
        "--state-dir".as_ref(),
        state_dir.as_os_str(),
        "--bin-dir".as_ref(),
        bin_dir.as_os_str(),
    ]);
    procs::spawn("reconciler", None, &argv, log)
}

fn feed_error(e: FeedError) -> LabError {
    LabError::Command {
        what: "following the region's change feed".into(),
        detail: e.to_string(),
    }
}

/// How one [`converge_logged`] went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Converged {
    Ok,
    Failed,
    /// The lab is gone: time to stop.
    LabGone,
}

/// When to converge again without a change of the region: a failed converge (an `nft` or `ip`
/// that failed, an API call that timed out) must not wait for the region's next change, which
/// may never come. Retried on a heartbeat with a doubling delay, so a lasting problem costs a
/// converge and a log line every [`MAX_RETRY`], not every second.
#[derive(Debug, Default)]
struct Retry {
    /// `None`: the last converge went well.
    next: Option<(Instant, Duration)>,
}

impl Retry {
    /// Record how a converge that ended at `now` went.
    fn record(&mut self, how: Converged, now: Instant) {
        self.next = match (how, self.next) {
            (Converged::Failed, None) => Some((now + FIRST_RETRY, FIRST_RETRY)),
            (Converged::Failed, Some((_, delay))) => {
                let delay = (delay * 2).min(MAX_RETRY);
                Some((now + delay, delay))
            }
            _ => None,
        };
    }

    /// Whether a retry is due at `now`.
    fn due(&self, now: Instant) -> bool {
        self.next.is_some_and(|(at, _)| now >= at)
    }
}

/// Converge once and log how it went.
fn converge_logged(ctx: &mut Ctx, why: &str) -> Converged {
    let start = Instant::now();
    match converge(ctx) {
        Ok(t) => {
            ctx.say(format!(
                "converged ({why}) in {} ms ({t})",
                start.elapsed().as_millis()
            ));
            Converged::Ok
        }
        Err(LabError::NoLab { .. }) => Converged::LabGone,
        Err(e) => {
            ctx.say(format!("converge ({why}) failed: {e}"));
            Converged::Failed
        }
    }
}

/// What the watch thread hands the converging loop.
enum Msg {
    Event(FeedEvent),
    Broken(FeedError),
}

/// Run the reconciler of lab `name` until the lab is down (its state file is gone) or its
/// region has been unreachable for a minute.
pub fn run(ctx: &mut Ctx) -> Result<()> {
    let feed = FeedClient::new(
        region::REGION,
        &ctx.api.info.endpoint,
        ctx.api.credentials.clone(),
    )
    .map_err(feed_error)?;
    let mut unreachable_since: Option<Instant> = None;
    let mut retry = Retry::default();
    loop {
        if !LabState::path(&ctx.state_dir).exists() {
            ctx.say("the lab is down; stopping");
            return Ok(());
        }
        let since = match feed.revision() {
            Ok(r) => r,
            Err(e) => {
                let first = *unreachable_since.get_or_insert_with(Instant::now);
                if first.elapsed() >= GIVE_UP {
                    return Err(feed_error(e));
                }
                std::thread::sleep(RETRY);
                continue;
            }
        };
        unreachable_since = None;
        let first = converge_logged(ctx, &format!("catching up at revision {since}"));
        if first == Converged::LabGone {
            ctx.say("the lab is down; stopping");
            return Ok(());
        }
        retry.record(first, Instant::now());
        let watch = match feed.watch(since, HEARTBEAT) {
            Ok(w) => w,
            Err(e) => {
                ctx.say(format!("watch from revision {since} failed: {e}; retrying"));
                std::thread::sleep(RETRY);
                continue;
            }
        };
        ctx.say(format!("watching the region from revision {since}"));
        let (tx, rx) = mpsc::channel();
        // The watch blocks on its stream; a thread turns it into messages so the loop below
        // can gather a batch. It ends with the stream (or when the loop drops `rx`).
        std::thread::spawn(move || {
            for item in watch {
                let msg = match item {
                    Ok(ev) => Msg::Event(ev),
                    Err(e) => Msg::Broken(e),
                };
                let broken = matches!(msg, Msg::Broken(_));
                if tx.send(msg).is_err() || broken {
                    return;
                }
            }
        });
        if !follow(ctx, &rx, &mut retry) {
            ctx.say("the lab is down; stopping");
            return Ok(());
        }
    }
}

/// Converge on every batch of changes until the watch breaks (`true`: reconnect) or the lab
/// is gone (`false`); a failed converge is retried on the heartbeats ([`Retry`]).
fn follow(ctx: &mut Ctx, rx: &mpsc::Receiver<Msg>, retry: &mut Retry) -> bool {
    loop {
        // The watch thread reports a broken stream itself; this bound only guards against a
        // thread that vanished without a word.
        let first = match rx.recv_timeout(HEARTBEAT * 4 + Duration::from_secs(5)) {
            Ok(m) => m,
            Err(_) => return true,
        };
        let mut revision = match first {
            Msg::Event(FeedEvent::Heartbeat { revision }) => {
                if !LabState::path(&ctx.state_dir).exists() {
                    return false;
                }
                if retry.due(Instant::now()) {
                    let why = format!("retrying at revision {revision}");
                    match converge_logged(ctx, &why) {
                        Converged::LabGone => return false,
                        how => retry.record(how, Instant::now()),
                    }
                }
                continue;
            }
            Msg::Event(ev @ FeedEvent::Change { .. }) => ev.revision(),
            Msg::Broken(e) => {
                ctx.say(format!("the watch broke: {e}; reconnecting"));
                return true;
            }
        };
        let (mut changes, start) = (1usize, Instant::now());
        let mut broken = false;
        while start.elapsed() < MAX_BATCH {
            match rx.recv_timeout(SETTLE) {
                Ok(Msg::Event(ev)) => {
                    if matches!(ev, FeedEvent::Change { .. }) {
                        changes += 1;
                    }
                    revision = revision.max(ev.revision());
                }
                Ok(Msg::Broken(_)) => {
                    broken = true;
                    break;
                }
                Err(_) => break,
            }
        }
        match converge_logged(ctx, &format!("{changes} changes up to revision {revision}")) {
            Converged::LabGone => return false,
            how => retry.record(how, Instant::now()),
        }
        if broken {
            ctx.say("the watch broke; reconnecting");
            return true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_converge_is_retried_on_a_later_heartbeat_with_a_doubling_bounded_delay() {
        let t0 = Instant::now();
        let mut r = Retry::default();
        assert!(!r.due(t0), "nothing failed yet");
        r.record(Converged::Failed, t0);
        assert!(!r.due(t0));
        assert!(r.due(t0 + FIRST_RETRY));
        let mut now = t0 + FIRST_RETRY;
        let mut delays = Vec::new();
        for _ in 0..8 {
            r.record(Converged::Failed, now);
            let (at, delay) = r.next.expect("a retry is planned");
            assert!(!r.due(at - Duration::from_millis(1)));
            assert!(r.due(at));
            delays.push(delay.as_secs());
            now = at;
        }
        assert_eq!(delays, [2, 4, 8, 16, 30, 30, 30, 30]);
        r.record(Converged::Ok, now);
        assert!(
            !r.due(now + MAX_RETRY * 10),
            "a good converge ends the retries"
        );
    }
}
