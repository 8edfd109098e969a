//! The region: an embedded, durable model of the AWS pieces IPv6 addressing depends on (VPC,
//! subnets, gateways, route tables, security groups, instances and their ENIs with IPv6 prefix
//! delegation), with every rule of the IPv6 design as a typed check.
//!
//! Pure domain: operations take their clock and random source from [`Env`]; storage sits behind
//! [`store::Store`]. The wire protocols live in the `region-api` crate.

#![warn(missing_docs)]

pub mod catalog;
pub mod ec2;
pub mod eks;
pub mod elb;
pub mod iam;
pub mod ids;
pub mod region;
pub mod state;
pub mod store;
pub mod table;
pub mod zones;

pub use region::{Env, Region, RegionConfig};
