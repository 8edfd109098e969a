//! When the live map looks again: [`ChangeSignal::wait`] returns when the plan may have changed.
//! It follows the region's change feed (`GET /sixfold/v1/watch`, see docs/region.md) through
//! `ec2_client::FeedClient`: a commit after the revision the plan was last read at wakes it at
//! once; the watch's heartbeat (every second) also lets it notice a lab's state file changing
//! (pods and proven paths are not region rows). An endpoint without the feed (real AWS, an older
//! region) is re-read every second instead; a broken watch is resumed from the last revision seen.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use ec2_client::feed::{FeedClient, FeedError, FeedEvent, Watch};

/// Heartbeat of the watch, and the polling period without a feed.
const TICK: Duration = Duration::from_secs(1);

/// What tells the watcher to rebuild the plan.
pub struct ChangeSignal {
    feed: Option<FeedClient>,
    watch: Option<Watch>,
    /// The revision the plan was last read at (changes up to it are already drawn).
    read_at: u64,
    /// The revision the watch has reached.
    seen: u64,
    /// Files whose changes matter too (the lab's state and checks), with their last mtime.
    files: Vec<(PathBuf, Option<SystemTime>)>,
}

fn mtime(p: &PathBuf) -> Option<SystemTime> {
    std::fs::metadata(p).and_then(|m| m.modified()).ok()
}

impl ChangeSignal {
    /// Follow `feed` when the endpoint serves it; otherwise poll. `files` are watched too.
    pub fn new(feed: Option<FeedClient>, files: Vec<PathBuf>) -> ChangeSignal {
        let feed = feed.filter(|f| match f.revision() {
            Ok(_) => true,
            Err(e) => {
                tracing::info!("no change feed at the endpoint ({e}); re-reading every second");
                false
            }
        });
        ChangeSignal {
            feed,
            watch: None,
            read_at: 0,
            seen: 0,
            files: files.into_iter().map(|p| (p.clone(), mtime(&p))).collect(),
        }
    }

    /// Whether the feed is followed (else: polling).
    pub fn follows_feed(&self) -> bool {
        self.feed.is_some()
    }

    /// Call just before reading the plan: changes up to now will be in it.
    pub fn reading(&mut self) {
        if let Some(r) = self.feed.as_ref().and_then(|f| f.revision().ok()) {
            self.read_at = r;
            self.seen = self.seen.max(r);
        }
        for (p, t) in &mut self.files {
            *t = mtime(p);
        }
    }

    fn files_changed(&self) -> bool {
        self.files.iter().any(|(p, t)| mtime(p) != *t)
    }

    /// Block until the plan may have changed.
    pub fn wait(&mut self) {
        let Some(feed) = &self.feed else {
            std::thread::sleep(TICK);
            return;
        };
        loop {
            if self.files_changed() {
                return;
            }
            let watch = match &mut self.watch {
                Some(w) => w,
                None => match feed.watch(self.seen, TICK) {
                    Ok(w) => self.watch.insert(w),
                    Err(FeedError::Compacted { .. }) => {
                        // Too far behind: re-read everything from now on.
                        self.seen = feed.revision().unwrap_or(self.seen);
                        return;
                    }
                    Err(e) => {
                        tracing::warn!("watching the region: {e}; retrying in a second");
                        std::thread::sleep(TICK);
                        return;
                    }
                },
            };
            match watch.next() {
                Some(Ok(FeedEvent::Change { revision, .. })) => {
                    self.seen = self.seen.max(revision);
                    if revision > self.read_at {
                        return;
                    }
                }
                Some(Ok(FeedEvent::Heartbeat { revision })) => {
                    self.seen = self.seen.max(revision);
                }
                Some(Err(e)) => {
                    tracing::warn!(
                        "the region's watch ended: {e}; resuming from revision {}",
                        self.seen
                    );
                    self.watch = None;
                    if matches!(e, FeedError::Compacted { .. }) {
                        self.seen = feed.revision().unwrap_or(self.seen);
                        return;
                    }
                    std::thread::sleep(TICK);
                    return;
                }
                None => {
                    self.watch = None;
                    return;
                }
            }
        }
    }
}
