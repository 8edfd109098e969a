//! Address math for sixfold: pure, deterministic, no I/O. Randomness and clocks come in as
//! arguments so every function can be tested exhaustively.
//!
//! Module ownership: `pods` is the node agent's pod-address pool; the rest is VPC/cluster math.
//!
//! - [`cidr`]: CIDR newtypes that can only hold a network ([`Ipv6Cidr`], [`Ipv6Subnet<N>`],
//!   [`Ipv4Cidr`], [`AwsIpv4Cidr`]).
//! - [`vpc`]: VPC /56 pool, subnet /64s, subnet IPv4 blocks.
//! - [`prefix80`]: node /80s carved from a subnet /64.
//! - [`eni`]: single interface addresses and AWS-reserved addresses.
//! - [`ula`] and [`service`]: service CIDRs and the cluster DNS address.
//! - [`ipv4`]: private ranges, overlap, default IPv4 service CIDR.
//! - [`max_pods`]: the EKS IPv6 max-pods rule.
//! - [`choice`]: how allocators pick among free candidates.
pub mod choice;
pub mod cidr;
pub mod eni;
pub mod ipv4;
pub mod max_pods;
pub mod pods;
pub mod prefix80;
pub mod service;
pub mod ula;
pub mod vpc;

pub use choice::Choice;
pub use cidr::{
    AwsIpv4Cidr, CidrError, Ipv4Cidr, Ipv6Cidr, Ipv6Subnet, NodePrefix80, Subnet64, Vpc56,
};
pub use service::{Ipv4ServiceCidr, ServiceCidr, ServiceCidr108, cluster_dns};
pub use vpc::VpcBlockPool;
