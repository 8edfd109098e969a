//! The EC2 edge: where request parameters become typed values. Ids are parsed into the typed ids
//! of [`region::ids`] (a malformed one is `Invalid<Kind>ID.Malformed`, naming the value), CIDRs
//! into the `addressing` types (a bad one is `InvalidParameterValue`, naming the parameter and
//! the value), and an absent required parameter is `MissingParameter`, naming the wire parameter.
//! The domain behind it sees only valid values; request-shape rules that speak of parameters
//! ("give one of A or B") are checked here too, worded for the client.

use std::fmt::Display;
use std::str::FromStr;

use addressing::cidr::{Ipv4Cidr, Ipv6Cidr};
use region::ec2::Ec2Error;
use region::ec2::model::Destination;
use region::ids::TypedId;

use crate::query::Params;

/// `MissingParameter` for the wire parameter `name`.
pub fn missing(name: &'static str) -> Ec2Error {
    Ec2Error::MissingParameter { name }
}

impl Params {
    /// Required text parameter `name`.
    pub fn required(&self, name: &'static str) -> Result<String, Ec2Error> {
        self.get(name).ok_or(missing(name))
    }

    /// Required id parameter `name`, parsed into its typed id.
    pub fn id<I: TypedId>(&self, name: &'static str) -> Result<I, Ec2Error> {
        self.opt_id(name)?.ok_or(missing(name))
    }

    /// Optional id parameter `name`, parsed into its typed id.
    pub fn opt_id<I: TypedId>(&self, name: &'static str) -> Result<Option<I>, Ec2Error> {
        self.get(name)
            .map(|s| I::parse(&s).map_err(Ec2Error::from))
            .transpose()
    }

    /// The ids of the flattened list `prefix.N`, each parsed into its typed id.
    pub fn ids<I: TypedId>(&self, prefix: &str) -> Result<Vec<I>, Ec2Error> {
        self.list(prefix)
            .iter()
            .map(|s| I::parse(s).map_err(Ec2Error::from))
            .collect()
    }

    /// Optional CIDR parameter `name` (`Ipv4Cidr`, `Ipv6Cidr`, ...): a value that does not parse
    /// is `InvalidParameterValue` naming the parameter, the value and the fix.
    pub fn cidr<C>(&self, name: &'static str) -> Result<Option<C>, Ec2Error>
    where
        C: FromStr,
        C::Err: Display,
    {
        self.get(name)
            .map(|s| {
                s.parse::<C>()
                    .map_err(|e| Ec2Error::invalid(name, s.clone(), format!("{e}.")))
            })
            .transpose()
    }

    /// The route destination: exactly one of `DestinationCidrBlock` and
    /// `DestinationIpv6CidrBlock`.
    pub fn destination(&self) -> Result<Destination, Ec2Error> {
        let v4 = self.cidr::<Ipv4Cidr>("DestinationCidrBlock")?;
        let v6 = self.cidr::<Ipv6Cidr>("DestinationIpv6CidrBlock")?;
        match (v4, v6) {
            (Some(a), None) => Ok(Destination::V4(a.to_ipnet())),
            (None, Some(b)) => Ok(Destination::V6(b.to_ipnet())),
            (None, None) => Err(missing(
                "DestinationCidrBlock or DestinationIpv6CidrBlock",
            )),
            (Some(_), Some(_)) => Err(Ec2Error::InvalidParameterCombination {
                message: "Give exactly one of --destination-cidr-block and --destination-ipv6-cidr-block.".into(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use region::ids::{Kind, SubnetId, VpcId};

    #[test]
    fn a_missing_id_names_the_wire_parameter() {
        let p = Params::parse(b"Action=DeleteVpc");
        let e = p.id::<VpcId>("VpcId").unwrap_err();
        assert!(
            matches!(e, Ec2Error::MissingParameter { name: "VpcId" }),
            "{e:?}"
        );
        assert_eq!(
            e.to_string(),
            "The request must contain the parameter VpcId."
        );
    }

    #[test]
    fn a_malformed_id_is_malformed_of_its_kind_and_names_the_value() {
        let p = Params::parse(b"VpcId=vpc-nothex&SubnetId=vpc-0123456789abcdef0");
        match p.id::<VpcId>("VpcId").unwrap_err() {
            Ec2Error::Malformed { kind, id } => {
                assert_eq!(kind, Kind::Vpc);
                assert_eq!(id, "vpc-nothex");
            }
            other => panic!("{other:?}"),
        }
        // A well-formed id of another kind is malformed for this parameter.
        assert!(matches!(
            p.id::<SubnetId>("SubnetId").unwrap_err(),
            Ec2Error::Malformed {
                kind: Kind::Subnet,
                ..
            }
        ));
        assert_eq!(p.opt_id::<SubnetId>("Nope").unwrap(), None);
    }

    #[test]
    fn every_id_of_a_list_is_parsed() {
        let p = Params::parse(b"VpcId.1=vpc-0123456789abcdef0&VpcId.2=vpc-x");
        let e = p.ids::<VpcId>("VpcId").unwrap_err();
        assert!(e.to_string().contains("vpc-x"), "{e}");
        let p = Params::parse(b"VpcId.1=vpc-0123456789abcdef0");
        assert_eq!(p.ids::<VpcId>("VpcId").unwrap().len(), 1);
    }

    #[test]
    fn a_bad_cidr_names_the_parameter_and_the_network_to_write() {
        let p = Params::parse(b"CidrBlock=10.0.0.1%2F16&Ipv6CidrBlock=banana");
        let e = p.cidr::<Ipv4Cidr>("CidrBlock").unwrap_err().to_string();
        assert!(e.contains("CidrBlock") && e.contains("10.0.0.0/16"), "{e}");
        let e = p.cidr::<Ipv6Cidr>("Ipv6CidrBlock").unwrap_err().to_string();
        assert!(e.contains("Ipv6CidrBlock") && e.contains("banana"), "{e}");
    }

    #[test]
    fn a_route_destination_is_exactly_one_block() {
        let both =
            Params::parse(b"DestinationCidrBlock=0.0.0.0%2F0&DestinationIpv6CidrBlock=%3A%3A%2F0");
        assert!(matches!(
            both.destination().unwrap_err(),
            Ec2Error::InvalidParameterCombination { .. }
        ));
        assert!(matches!(
            Params::parse(b"").destination().unwrap_err(),
            Ec2Error::MissingParameter { .. }
        ));
        let v6 = Params::parse(b"DestinationIpv6CidrBlock=%3A%3A%2F0");
        assert_eq!(v6.destination().unwrap().to_string(), "::/0");
    }
}
