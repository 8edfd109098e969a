//! A small synchronous client for the EC2 Query API, used by the node agent against real AWS
//! and against sixfold's region alike (the endpoint is a base URL, like `--endpoint-url`).
//!
//! - [`client`]: the [`Ec2Client`] and its operations (`DescribeInstances`,
//!   `DescribeNetworkInterfaces`, `AssignIpv6Addresses` for addresses and /80 prefixes),
//!   signing with the `sigv4` crate, timeouts and bounded retries.
//! - [`model`]: the typed results.
//! - [`error`]: [`Ec2Error`], EC2's own error codes kept apart from transport failures.
//! - [`credentials`]: explicit, environment, or shared-credentials-file credentials.
//! - [`provider`]: the credential chain (environment → web identity → profile → instance
//!   profile) with refresh of temporary credentials, which the client asks before every call.
//! - [`imds`]: the IMDSv2 client (node metadata, instance profile credentials).
//! - [`xml`]: the small XML reader the replies are parsed with.
//! - [`feed`]: [`FeedClient`], a follower of the region's change feed (revisions, snapshot,
//!   watch), which sixfold's own region serves.
//!
//! No async runtime: every call blocks the calling thread for at most the retry budget.

pub mod client;
pub mod credentials;
pub mod error;
pub mod feed;
pub mod imds;
pub mod model;
pub mod provider;
pub mod xml;

pub use client::{API_VERSION, Ec2Client, Endpoint, RetryPolicy};
pub use credentials::CredentialsError;
pub use error::Ec2Error;
pub use feed::{FeedClient, FeedError, FeedEvent};
pub use imds::{ImdsClient, ImdsError, NodeMetadata};
pub use model::{AssignedIpv6, Attachment, Filter, Instance, NetworkInterface};
pub use provider::{CredentialsProvider, WebIdentity};
pub use sigv4::Credentials;
