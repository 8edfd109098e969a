//! Resource ids: generation (`vpc-` + 17 hex digits, as EC2 does) and parsing of ids given by
//! clients, so a malformed id is told apart from one that does not exist.

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
}
