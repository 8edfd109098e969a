//! What the test suites of the workspace share, so each fixture is written once: commands run
//! with a deadline ([`cmd`]), the root check and throw-away network namespaces of the root tests
//! ([`netns`]), and runs of the real AWS CLI with the helpers its JSON answers need ([`aws`]).
//!
//! A dev-dependency only. It depends on no crate of the workspace, so any of them (even
//! `dataplane`) can use it without a second copy of itself in its tests.

pub mod aws;
pub mod cmd;
pub mod netns;

pub use cmd::{Cli, require_root, run, run_with_input, sh, try_sh};
pub use netns::{TestNs, ip_json};
