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

use crate::ids::{Kind, TypedId};
use crate::table::Table;

/// The row a typed id names, or [`Ec2Error::NotFound`]. The id is well formed by construction:
/// the wire layer parsed it.
pub(crate) fn lookup<'a, T: Clone, I: TypedId>(
    table: &'a Table<T>,
    id: &I,
) -> Result<&'a T, Ec2Error> {
    table.get(id.as_str()).ok_or_else(|| Ec2Error::NotFound {
        kind: I::KIND,
        id: id.to_string(),
    })
}

/// [`lookup`], for changing the row.
pub(crate) fn lookup_mut<'a, T: Clone, I: TypedId>(
    table: &'a mut Table<T>,
    id: &I,
) -> Result<&'a mut T, Ec2Error> {
    table
        .get_mut(id.as_str())
        .ok_or_else(|| Ec2Error::NotFound {
            kind: I::KIND,
            id: id.to_string(),
        })
}

/// The row a stored reference names (another row's `vpc_id`, `subnet_id`, ...): such ids were
/// well formed when they were stored, so only their absence is an error.
pub(crate) fn stored<'a, T: Clone>(
    table: &'a Table<T>,
    kind: Kind,
    id: &str,
) -> Result<&'a T, Ec2Error> {
    table.get(id).ok_or_else(|| Ec2Error::NotFound {
        kind,
        id: id.to_string(),
    })
}

/// [`stored`], for changing the row.
pub(crate) fn stored_mut<'a, T: Clone>(
    table: &'a mut Table<T>,
    kind: Kind,
    id: &str,
) -> Result<&'a mut T, Ec2Error> {
    table.get_mut(id).ok_or_else(|| Ec2Error::NotFound {
        kind,
        id: id.to_string(),
    })
}
