//! Resource ids: generation (`vpc-` + 17 hex digits, as EC2 does) and the typed ids
//! ([`VpcId`], [`SubnetId`], ...) that the EC2 wire layer parses client input into, so a
//! malformed id is told apart from one that does not exist, and the domain only ever sees
//! well-formed ids of the right kind.

use std::fmt;
use std::str::FromStr;

use rand::RngCore;

/// The kinds of EC2 resource this region knows, with their id prefix and error-code stem.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// `vpc-...`
    Vpc,
    /// `subnet-...`
    Subnet,
    /// `igw-...`
    InternetGateway,
    /// `eigw-...`
    EgressOnlyInternetGateway,
    /// `rtb-...`
    RouteTable,
    /// `rtbassoc-...`
    RouteTableAssociation,
    /// `sg-...`
    SecurityGroup,
    /// `i-...`
    Instance,
    /// `eni-...`
    NetworkInterface,
    /// `vpc-cidr-assoc-...`
    VpcCidrAssociation,
    /// `subnet-cidr-assoc-...`
    SubnetCidrAssociation,
    /// `r-...`
    Reservation,
    /// `eni-attach-...`
    Attachment,
    /// `sgr-...`
    SecurityGroupRule,
}

impl Kind {
    /// The id prefix before the dash and hex digits (`vpc`, `eni-attach`, ...).
    pub fn prefix(self) -> &'static str {
        match self {
            Kind::Vpc => "vpc",
            Kind::Subnet => "subnet",
            Kind::InternetGateway => "igw",
            Kind::EgressOnlyInternetGateway => "eigw",
            Kind::RouteTable => "rtb",
            Kind::RouteTableAssociation => "rtbassoc",
            Kind::SecurityGroup => "sg",
            Kind::Instance => "i",
            Kind::NetworkInterface => "eni",
            Kind::VpcCidrAssociation => "vpc-cidr-assoc",
            Kind::SubnetCidrAssociation => "subnet-cidr-assoc",
            Kind::Reservation => "r",
            Kind::Attachment => "eni-attach",
            Kind::SecurityGroupRule => "sgr",
        }
    }

    /// The stem EC2 uses in its `Invalid<Stem>.NotFound` / `.Malformed` error codes.
    pub fn error_stem(self) -> &'static str {
        match self {
            Kind::Vpc => "InvalidVpcID",
            Kind::Subnet => "InvalidSubnetID",
            Kind::InternetGateway => "InvalidInternetGatewayID",
            Kind::EgressOnlyInternetGateway => "InvalidEgressOnlyInternetGatewayId",
            Kind::RouteTable => "InvalidRouteTableID",
            Kind::RouteTableAssociation => "InvalidAssociationID",
            Kind::SecurityGroup => "InvalidGroup",
            Kind::Instance => "InvalidInstanceID",
            Kind::NetworkInterface => "InvalidNetworkInterfaceID",
            Kind::VpcCidrAssociation | Kind::SubnetCidrAssociation => "InvalidAssociationID",
            Kind::Reservation => "InvalidReservationID",
            Kind::Attachment => "InvalidAttachmentID",
            Kind::SecurityGroupRule => "InvalidSecurityGroupRuleId",
        }
    }

    /// The EC2 error code for a malformed id of this kind, as AWS spells it (the casing of
    /// `ID`/`Id` differs between kinds and between `.Malformed` and `.NotFound`).
    pub fn malformed_code(self) -> &'static str {
        match self {
            Kind::Vpc => "InvalidVpcID.Malformed",
            Kind::Subnet => "InvalidSubnetID.Malformed",
            Kind::InternetGateway => "InvalidInternetGatewayId.Malformed",
            Kind::EgressOnlyInternetGateway => "InvalidEgressOnlyInternetGatewayId.Malformed",
            Kind::RouteTable => "InvalidRouteTableId.Malformed",
            Kind::RouteTableAssociation
            | Kind::VpcCidrAssociation
            | Kind::SubnetCidrAssociation => "InvalidAssociationID.Malformed",
            Kind::SecurityGroup => "InvalidGroupId.Malformed",
            Kind::Instance => "InvalidInstanceID.Malformed",
            Kind::NetworkInterface => "InvalidNetworkInterfaceId.Malformed",
            Kind::Reservation => "InvalidReservationID.Malformed",
            Kind::Attachment => "InvalidNetworkInterfaceAttachmentId.Malformed",
            Kind::SecurityGroupRule => "InvalidSecurityGroupRuleId.Malformed",
        }
    }

    /// Words for messages: "vpc ID", "subnet ID" ...
    pub fn noun(self) -> &'static str {
        match self {
            Kind::Vpc => "vpc ID",
            Kind::Subnet => "subnet ID",
            Kind::InternetGateway => "internet gateway ID",
            Kind::EgressOnlyInternetGateway => "egress-only internet gateway ID",
            Kind::RouteTable => "route table ID",
            Kind::RouteTableAssociation => "route table association ID",
            Kind::SecurityGroup => "security group ID",
            Kind::Instance => "instance ID",
            Kind::NetworkInterface => "network interface ID",
            Kind::VpcCidrAssociation | Kind::SubnetCidrAssociation => "association ID",
            Kind::Reservation => "reservation ID",
            Kind::Attachment => "attachment ID",
            Kind::SecurityGroupRule => "security group rule ID",
        }
    }

    /// The kind an id names, by its prefix (for CreateTags / DescribeTags).
    pub fn of_id(id: &str) -> Option<Kind> {
        let (prefix, _) = id.rsplit_once('-')?;
        [
            Kind::Vpc,
            Kind::Subnet,
            Kind::InternetGateway,
            Kind::EgressOnlyInternetGateway,
            Kind::RouteTable,
            Kind::SecurityGroup,
            Kind::Instance,
            Kind::NetworkInterface,
        ]
        .into_iter()
        .find(|k| k.prefix() == prefix)
    }

    /// The `resourceType` DescribeTags reports.
    pub fn resource_type(self) -> &'static str {
        match self {
            Kind::Vpc => "vpc",
            Kind::Subnet => "subnet",
            Kind::InternetGateway => "internet-gateway",
            Kind::EgressOnlyInternetGateway => "egress-only-internet-gateway",
            Kind::RouteTable => "route-table",
            Kind::SecurityGroup => "security-group",
            Kind::Instance => "instance",
            Kind::NetworkInterface => "network-interface",
            _ => "other",
        }
    }
}

/// A new id of `kind`: prefix, dash, 17 lowercase hex digits.
pub fn generate(kind: Kind, rng: &mut dyn RngCore) -> String {
    let mut hex = String::with_capacity(17);
    let v = rng.next_u64() as u128 | ((rng.next_u32() as u128) << 64);
    for i in 0..17 {
        let nibble = ((v >> (i * 4)) & 0xf) as u32;
        hex.push(char::from_digit(nibble, 16).unwrap_or('0'));
    }
    format!("{}-{hex}", kind.prefix())
}

/// Whether `id` is well formed for `kind` (prefix, dash, 8 or 17 lowercase hex digits).
pub fn is_well_formed(kind: Kind, id: &str) -> bool {
    let Some(rest) = id
        .strip_prefix(kind.prefix())
        .and_then(|r| r.strip_prefix('-'))
    else {
        return false;
    };
    (rest.len() == 8 || rest.len() == 17)
        && rest
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// A client-given id that is not of the form `prefix-hex` its kind requires.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Invalid id: \"{id}\" is not a well-formed {}; it looks like {}-0123456789abcdef0.", kind.noun(), kind.prefix())]
pub struct MalformedId {
    /// The kind of resource the id should name.
    pub kind: Kind,
    /// The id given.
    pub id: String,
}

/// An id of one resource kind that can only be built well formed: parsed from client input
/// ([`TypedId::parse`]) or freshly generated ([`TypedId::generate`]).
pub trait TypedId: Sized + Clone + fmt::Display + AsRef<str> {
    /// The kind of resource this id names.
    const KIND: Kind;

    /// The id in `s`, if it is well formed for [`Self::KIND`].
    fn parse(s: &str) -> Result<Self, MalformedId>;

    /// A new random id of this kind.
    fn generate(rng: &mut dyn RngCore) -> Self;

    /// The id's text (`vpc-0123...`).
    fn as_str(&self) -> &str;
}

/// Defines a typed id: a `String` newtype built only through [`TypedId::parse`] or
/// [`TypedId::generate`], printing and serializing as its text.
macro_rules! typed_id {
    ($(#[$doc:meta] $name:ident => $kind:expr;)+) => {$(
        #[$doc]
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(String);

        impl $name {
            /// The id in `s`, if it is well formed for this kind.
            pub fn parse(s: &str) -> Result<Self, MalformedId> {
                if is_well_formed($kind, s) {
                    Ok(Self(s.to_owned()))
                } else {
                    Err(MalformedId { kind: $kind, id: s.to_owned() })
                }
            }

            /// The id's text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TypedId for $name {
            const KIND: Kind = $kind;

            fn parse(s: &str) -> Result<Self, MalformedId> {
                $name::parse(s)
            }

            fn generate(rng: &mut dyn RngCore) -> Self {
                Self(generate(Self::KIND, rng))
            }

            fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl FromStr for $name {
            type Err = MalformedId;
            fn from_str(s: &str) -> Result<Self, MalformedId> {
                <Self as TypedId>::parse(s)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<String> for $name {
            fn eq(&self, other: &String) -> bool {
                &self.0 == other
            }
        }

        impl PartialEq<$name> for String {
            fn eq(&self, other: &$name) -> bool {
                *self == other.0
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = <String as serde::Deserialize>::deserialize(d)?;
                <Self as TypedId>::parse(&text).map_err(serde::de::Error::custom)
            }
        }
    )+};
}

typed_id! {
    /// A VPC id, `vpc-...`.
    VpcId => Kind::Vpc;
    /// A subnet id, `subnet-...`.
    SubnetId => Kind::Subnet;
    /// An internet gateway id, `igw-...`.
    InternetGatewayId => Kind::InternetGateway;
    /// An egress-only internet gateway id, `eigw-...`.
    EgressOnlyInternetGatewayId => Kind::EgressOnlyInternetGateway;
    /// A route table id, `rtb-...`.
    RouteTableId => Kind::RouteTable;
    /// A route table association id, `rtbassoc-...`.
    RouteTableAssociationId => Kind::RouteTableAssociation;
    /// A security group id, `sg-...`.
    SecurityGroupId => Kind::SecurityGroup;
    /// An instance id, `i-...`.
    InstanceId => Kind::Instance;
    /// A network interface (ENI) id, `eni-...`.
    NetworkInterfaceId => Kind::NetworkInterface;
    /// A VPC CIDR block association id, `vpc-cidr-assoc-...`.
    VpcCidrAssociationId => Kind::VpcCidrAssociation;
    /// A subnet CIDR block association id, `subnet-cidr-assoc-...`.
    SubnetCidrAssociationId => Kind::SubnetCidrAssociation;
    /// A network interface attachment id, `eni-attach-...`.
    AttachmentId => Kind::Attachment;
}

/// A request id in the UUID shape AWS uses.
pub fn request_id(rng: &mut dyn RngCore) -> String {
    let a = rng.next_u64();
    let b = rng.next_u64();
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        ((b >> 48) & 0x3fff) | 0x8000,
        b & 0xffff_ffff_ffff
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn generated_ids_are_well_formed_and_distinct() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let a = generate(Kind::Vpc, &mut rng);
        let b = generate(Kind::Vpc, &mut rng);
        assert!(is_well_formed(Kind::Vpc, &a), "{a}");
        assert_ne!(a, b);
        assert_eq!(Kind::of_id(&a), Some(Kind::Vpc));
        let e = generate(Kind::EgressOnlyInternetGateway, &mut rng);
        assert_eq!(Kind::of_id(&e), Some(Kind::EgressOnlyInternetGateway));
    }

    #[test]
    fn malformed_ids_are_rejected() {
        assert!(!is_well_formed(Kind::Vpc, "vpc-XYZ"));
        assert!(!is_well_formed(Kind::Vpc, "subnet-0123456789abcdef0"));
        assert!(is_well_formed(Kind::Vpc, "vpc-0123456789abcdef0"));
        assert!(is_well_formed(Kind::Vpc, "vpc-12345678"));
    }

    #[test]
    fn typed_ids_parse_only_their_own_kind() {
        let v = VpcId::parse("vpc-0123456789abcdef0").unwrap();
        assert_eq!(v.as_str(), "vpc-0123456789abcdef0");
        assert_eq!(v.to_string(), "vpc-0123456789abcdef0");
        let e = VpcId::parse("subnet-0123456789abcdef0").unwrap_err();
        assert_eq!(e.kind, Kind::Vpc);
        assert_eq!(e.id, "subnet-0123456789abcdef0");
        assert!(e.to_string().contains("subnet-0123456789abcdef0"), "{e}");
        assert!(SubnetId::parse("subnet-0123456789abcdef0").is_ok());
        assert!(SecurityGroupId::parse("sg-XYZ").is_err());
        assert!(
            SecurityGroupId::parse("sg-0123456789ABCDEF0").is_err(),
            "upper case"
        );
        assert!(InstanceId::parse("i-").is_err());
        assert!(NetworkInterfaceId::parse("eni-attach-0123456789abcdef0").is_err());
        assert!(AttachmentId::parse("eni-attach-0123456789abcdef0").is_ok());
        assert!(VpcCidrAssociationId::parse("vpc-cidr-assoc-0123456789abcdef0").is_ok());
        assert!(VpcCidrAssociationId::parse("subnet-cidr-assoc-0123456789abcdef0").is_err());
    }

    #[test]
    fn generated_typed_ids_parse_back_and_serialize_as_text() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(9);
        let id = RouteTableId::generate(&mut rng);
        assert_eq!(RouteTableId::parse(id.as_str()).unwrap(), id);
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, format!("\"{id}\""));
        assert_eq!(serde_json::from_str::<RouteTableId>(&json).unwrap(), id);
        assert!(serde_json::from_str::<RouteTableId>("\"rtb-nope\"").is_err());
    }

    #[test]
    fn malformed_codes_are_the_ones_aws_sends() {
        assert_eq!(Kind::Vpc.malformed_code(), "InvalidVpcID.Malformed");
        assert_eq!(
            Kind::SecurityGroup.malformed_code(),
            "InvalidGroupId.Malformed"
        );
        assert_eq!(
            Kind::RouteTable.malformed_code(),
            "InvalidRouteTableId.Malformed"
        );
        assert_eq!(
            Kind::NetworkInterface.malformed_code(),
            "InvalidNetworkInterfaceId.Malformed"
        );
    }
}
