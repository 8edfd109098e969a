//! The address plan of a region (and of a running lab), drawn as one self-contained HTML page.
//!
//! - [`model`]: the [`Plan`] — VPCs, subnets, nodes with their /80, pods, clusters with their
//!   service /108, gateways, route tables, findings and path results. Plain data.
//! - [`build`]: a [`Plan`] from the region's API replies (EC2 Query XML, EKS JSON) and from a
//!   lab's state. Pure: the callers do the I/O.
//! - [`layout`]: where a prefix sits inside its parent, as positions on a line (pure geometry).
//! - [`mod@render`]: `Plan -> String`, the HTML page (inline SVG, CSS and JS; no fetches).
//! - [`synthetic`]: a plan of any size, for the benchmark and tests.
//!
//! No I/O anywhere in this crate: the `sixfold map` subcommand reads the APIs and the state file,
//! and serves or writes the page.

pub mod build;
pub mod layout;
pub mod model;
pub mod render;
pub mod synthetic;

pub use build::{BuildError, RegionReplies};
pub use model::Plan;
pub use render::{Options, render};
