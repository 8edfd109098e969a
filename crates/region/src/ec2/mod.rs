//! EC2: the VPC pieces, instances and their network interfaces, as typed operations on
//! [`State`](crate::state::State).

pub mod enis;
pub mod error;
pub mod filter;
pub mod instances;
pub mod model;
pub mod net;
pub mod page;
pub mod security_groups;
pub mod subnets;
pub mod tags;
pub mod tokens;
pub mod vpc;

pub use error::Ec2Error;

use crate::ids::Kind;
use crate::table::Table;

/// Find a row by a client-given id: malformed and missing ids get their own errors.
pub(crate) fn lookup<'a, T: Clone>(
    table: &'a Table<T>,
    kind: Kind,
    id: &str,
) -> Result<&'a T, Ec2Error> {
    error::check_id(kind, id)?;
    table.get(id).ok_or_else(|| Ec2Error::NotFound {
        kind,
        id: id.to_string(),
    })
}

pub(crate) fn lookup_mut<'a, T: Clone>(
    table: &'a mut Table<T>,
    kind: Kind,
    id: &str,
) -> Result<&'a mut T, Ec2Error> {
    error::check_id(kind, id)?;
    table.get_mut(id).ok_or_else(|| Ec2Error::NotFound {
        kind,
        id: id.to_string(),
    })
}
