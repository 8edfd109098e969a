//! Typed results of the EC2 operations the node agent uses, read from the reply XML with the
//! element names of botocore's EC2 model (`networkInterfaceSet`, `ipv6PrefixSet`, ...).
//! Addresses and prefixes are parsed into `std::net`/`ipnet` types, so a bad value in a reply
//! is an error naming it rather than a string that fails later.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use ipnet::Ipv6Net;

use crate::xml::Element;

/// A `DescribeNetworkInterfaces`/`DescribeInstances` filter (`Filter.N.Name`,
/// `Filter.N.Value.M`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Filter {
    /// The filter name, e.g. `attachment.instance-id`.
    pub name: String,
    /// Values; a resource matches if it matches any.
    pub values: Vec<String>,
}

impl Filter {
    /// Any filter by name and values.
    pub fn new(
        name: impl Into<String>,
        values: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        Filter {
            name: name.into(),
            values: values.into_iter().map(Into::into).collect(),
        }
    }

    /// Interfaces attached to `instance_id`.
    pub fn attachment_instance_id(instance_id: impl Into<String>) -> Self {
        Filter::new("attachment.instance-id", [instance_id.into()])
    }

    /// The interface `eni_id`.
    pub fn network_interface_id(eni_id: impl Into<String>) -> Self {
        Filter::new("network-interface-id", [eni_id.into()])
    }
}

/// How an interface is attached to an instance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attachment {
    /// `eni-attach-...`.
    pub attachment_id: Option<String>,
    /// The instance; in `DescribeInstances` replies (which omit it) filled with the owning
    /// instance's id.
    pub instance_id: Option<String>,
    /// 0 for the primary interface.
    pub device_index: u32,
    /// The network card, when the instance has several.
    pub network_card_index: Option<u32>,
    /// `attaching`, `attached`, `detaching`, `detached`.
    pub status: Option<String>,
}

/// An elastic network interface.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetworkInterface {
    /// `eni-...`.
    pub network_interface_id: String,
    /// `subnet-...`.
    pub subnet_id: Option<String>,
    /// `vpc-...`.
    pub vpc_id: Option<String>,
    /// The primary private IPv4 address.
    pub private_ipv4: Option<Ipv4Addr>,
    /// The interface's IPv6 addresses (`ipv6AddressesSet`).
    pub ipv6_addresses: Vec<Ipv6Addr>,
    /// Delegated IPv6 prefixes (`ipv6PrefixSet`), /80 for sixfold nodes.
    pub ipv6_prefixes: Vec<Ipv6Net>,
    /// The MAC address.
    pub mac_address: Option<String>,
    /// `available`, `in-use`, ...
    pub status: Option<String>,
    /// The attachment, when attached.
    pub attachment: Option<Attachment>,
}

impl NetworkInterface {
    /// Whether this is an instance's primary interface (device index 0).
    pub fn is_primary(&self) -> bool {
        self.attachment
            .as_ref()
            .is_some_and(|a| a.device_index == 0)
    }
}

/// An EC2 instance, with the fields the node agent needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Instance {
    /// `i-...`.
    pub instance_id: String,
    /// `m5.large`, ...
    pub instance_type: Option<String>,
    /// `pending`, `running`, ...
    pub state: Option<String>,
    /// The subnet of the primary interface.
    pub subnet_id: Option<String>,
    /// The VPC.
    pub vpc_id: Option<String>,
    /// The primary private IPv4 address.
    pub private_ipv4: Option<Ipv4Addr>,
    /// The primary IPv6 address (`ipv6Address`), when one is designated.
    pub ipv6_address: Option<Ipv6Addr>,
    /// Attached interfaces, in the reply's order.
    pub network_interfaces: Vec<NetworkInterface>,
}

impl Instance {
    /// The primary interface (device index 0).
    pub fn primary_interface(&self) -> Option<&NetworkInterface> {
        self.network_interfaces.iter().find(|n| n.is_primary())
    }

    /// Every IPv6 address of every interface, the designated primary one first.
    pub fn ipv6_addresses(&self) -> Vec<Ipv6Addr> {
        let mut out: Vec<Ipv6Addr> = self.ipv6_address.into_iter().collect();
        for a in self
            .network_interfaces
            .iter()
            .flat_map(|n| &n.ipv6_addresses)
        {
            if !out.contains(a) {
                out.push(*a);
            }
        }
        out
    }
}

/// The result of `AssignIpv6Addresses`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AssignedIpv6 {
    /// The interface.
    pub network_interface_id: String,
    /// Addresses assigned by this call (`assignedIpv6Addresses`).
    pub addresses: Vec<Ipv6Addr>,
    /// Prefixes assigned by this call (`assignedIpv6PrefixSet`).
    pub prefixes: Vec<Ipv6Net>,
}

/// A reply field that is missing or does not parse.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct FieldError(pub String);

type Res<T> = Result<T, FieldError>;

/// One page of a describe call: the items and the `nextToken`, if there are more.
pub(crate) type Page<T> = Res<(Vec<T>, Option<String>)>;

fn required(el: &Element, name: &str) -> Res<String> {
    el.child_text(name)
        .map(str::to_owned)
        .ok_or_else(|| FieldError(format!("<{}> has no <{name}>", el.name)))
}

fn optional(el: &Element, name: &str) -> Option<String> {
    el.child_text(name).map(str::to_owned)
}

fn parse_value<T: FromStr>(el: &Element, name: &str, text: &str) -> Res<T> {
    text.parse::<T>()
        .map_err(|_| FieldError(format!("<{name}> of <{}> is not valid: {text:?}", el.name)))
}

fn optional_parsed<T: FromStr>(el: &Element, name: &str) -> Res<Option<T>> {
    el.child_text(name)
        .map(|t| parse_value(el, name, t))
        .transpose()
}

/// `<list><item><field>v</field></item>...</list>` parsed into `T`.
fn item_fields<T: FromStr>(el: &Element, list: &str, field: &str) -> Res<Vec<T>> {
    el.items(list)
        .filter_map(|item| item.child_text(field).map(|t| parse_value(item, field, t)))
        .collect()
}

/// `<list><item>v</item>...</list>` parsed into `T`.
fn item_texts<T: FromStr>(el: &Element, list: &str) -> Res<Vec<T>> {
    el.items(list)
        .map(|item| item.text.trim())
        .filter(|t| !t.is_empty())
        .map(|t| parse_value(el, list, t))
        .collect()
}

fn attachment(el: &Element) -> Res<Option<Attachment>> {
    let Some(a) = el.child("attachment") else {
        return Ok(None);
    };
    let device_index = optional_parsed::<u32>(a, "deviceIndex")?
        .ok_or_else(|| FieldError("<attachment> has no <deviceIndex>".to_owned()))?;
    Ok(Some(Attachment {
        attachment_id: optional(a, "attachmentId"),
        instance_id: optional(a, "instanceId"),
        device_index,
        network_card_index: optional_parsed(a, "networkCardIndex")?,
        status: optional(a, "status"),
    }))
}

/// An `<item>` of `networkInterfaceSet` (both the `NetworkInterface` and the
/// `InstanceNetworkInterface` shapes).
pub(crate) fn network_interface(el: &Element) -> Res<NetworkInterface> {
    Ok(NetworkInterface {
        network_interface_id: required(el, "networkInterfaceId")?,
        subnet_id: optional(el, "subnetId"),
        vpc_id: optional(el, "vpcId"),
        private_ipv4: optional_parsed(el, "privateIpAddress")?,
        ipv6_addresses: item_fields(el, "ipv6AddressesSet", "ipv6Address")?,
        ipv6_prefixes: item_fields(el, "ipv6PrefixSet", "ipv6Prefix")?,
        mac_address: optional(el, "macAddress"),
        status: optional(el, "status"),
        attachment: attachment(el)?,
    })
}

/// An `<item>` of `instancesSet`.
pub(crate) fn instance(el: &Element) -> Res<Instance> {
    let instance_id = required(el, "instanceId")?;
    let mut network_interfaces = el
        .items("networkInterfaceSet")
        .map(network_interface)
        .collect::<Res<Vec<_>>>()?;
    for a in network_interfaces
        .iter_mut()
        .filter_map(|n| n.attachment.as_mut())
    {
        a.instance_id.get_or_insert_with(|| instance_id.clone());
    }
    Ok(Instance {
        state: el.child("instanceState").and_then(|s| optional(s, "name")),
        instance_type: optional(el, "instanceType"),
        subnet_id: optional(el, "subnetId"),
        vpc_id: optional(el, "vpcId"),
        private_ipv4: optional_parsed(el, "privateIpAddress")?,
        ipv6_address: optional_parsed(el, "ipv6Address")?,
        network_interfaces,
        instance_id,
    })
}

/// The body of a `DescribeNetworkInterfacesResponse`: the interfaces and the `nextToken`.
pub(crate) fn describe_network_interfaces(root: &Element) -> Page<NetworkInterface> {
    let enis = root
        .items("networkInterfaceSet")
        .map(network_interface)
        .collect::<Res<Vec<_>>>()?;
    Ok((enis, optional(root, "nextToken")))
}

/// The body of a `DescribeInstancesResponse`: the instances of every reservation and the
/// `nextToken`.
pub(crate) fn describe_instances(root: &Element) -> Page<Instance> {
    let mut out = Vec::new();
    for reservation in root.items("reservationSet") {
        for i in reservation.items("instancesSet") {
            out.push(instance(i)?);
        }
    }
    Ok((out, optional(root, "nextToken")))
}

/// The body of an `AssignIpv6AddressesResponse`.
pub(crate) fn assign_ipv6(root: &Element) -> Res<AssignedIpv6> {
    Ok(AssignedIpv6 {
        network_interface_id: required(root, "networkInterfaceId")?,
        addresses: item_texts(root, "assignedIpv6Addresses")?,
        prefixes: item_texts(root, "assignedIpv6PrefixSet")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml;

    fn fixture(name: &str) -> Element {
        let text = match name {
            "enis" => include_str!("../tests/fixtures/describe_network_interfaces.xml"),
            "instances" => include_str!("../tests/fixtures/describe_instances.xml"),
            "prefix" => include_str!("../tests/fixtures/assign_ipv6_prefix.xml"),
            "addresses" => include_str!("../tests/fixtures/assign_ipv6_addresses.xml"),
            other => panic!("no fixture {other}"),
        };
        xml::parse(text).expect("fixture parses")
    }

    #[test]
    fn describe_network_interfaces_reads_prefixes_addresses_and_attachment() {
        let (enis, next) = describe_network_interfaces(&fixture("enis")).unwrap();
        assert_eq!(next, None);
        assert_eq!(enis.len(), 2);
        let eni = &enis[0];
        assert_eq!(eni.network_interface_id, "eni-0f7db2c6b5e1a0c11");
        assert_eq!(eni.subnet_id.as_deref(), Some("subnet-0e1f2a3b4c5d6e7f8"));
        assert_eq!(eni.vpc_id.as_deref(), Some("vpc-0a1b2c3d4e5f60718"));
        assert_eq!(eni.private_ipv4, Some(Ipv4Addr::new(10, 0, 1, 17)));
        assert_eq!(
            eni.ipv6_addresses,
            ["2001:db8:1234:1a00:9691:9503:25ad:1761"
                .parse::<Ipv6Addr>()
                .unwrap()]
        );
        assert_eq!(
            eni.ipv6_prefixes,
            ["2001:db8:1234:1a00:5e3f::/80".parse::<Ipv6Net>().unwrap()]
        );
        assert_eq!(eni.mac_address.as_deref(), Some("02:1a:2b:3c:4d:5e"));
        let a = eni.attachment.as_ref().unwrap();
        assert_eq!(a.device_index, 0);
        assert_eq!(a.instance_id.as_deref(), Some("i-0123456789abcdef0"));
        assert_eq!(
            a.attachment_id.as_deref(),
            Some("eni-attach-0b1c2d3e4f5a6b7c8")
        );
        assert!(eni.is_primary());
        // An unattached interface with no IPv6 at all.
        let spare = &enis[1];
        assert_eq!(spare.attachment, None);
        assert!(spare.ipv6_addresses.is_empty() && spare.ipv6_prefixes.is_empty());
        assert!(!spare.is_primary());
    }

    #[test]
    fn describe_instances_reads_interfaces_of_every_reservation() {
        let (instances, next) = describe_instances(&fixture("instances")).unwrap();
        assert_eq!(next, None);
        assert_eq!(instances.len(), 1);
        let i = &instances[0];
        assert_eq!(i.instance_id, "i-0123456789abcdef0");
        assert_eq!(i.instance_type.as_deref(), Some("m5.large"));
        assert_eq!(i.state.as_deref(), Some("running"));
        assert_eq!(i.subnet_id.as_deref(), Some("subnet-0e1f2a3b4c5d6e7f8"));
        assert_eq!(i.vpc_id.as_deref(), Some("vpc-0a1b2c3d4e5f60718"));
        assert_eq!(i.private_ipv4, Some(Ipv4Addr::new(10, 0, 1, 17)));
        assert_eq!(i.ipv6_address, None);
        assert_eq!(i.network_interfaces.len(), 2);
        let primary = i.primary_interface().unwrap();
        assert_eq!(primary.network_interface_id, "eni-0f7db2c6b5e1a0c11");
        assert_eq!(primary.ipv6_prefixes.len(), 1);
        // DescribeInstances omits attachment.instanceId; it is filled in from the instance.
        assert_eq!(
            primary.attachment.as_ref().unwrap().instance_id.as_deref(),
            Some("i-0123456789abcdef0")
        );
        assert_eq!(
            i.network_interfaces[1]
                .attachment
                .as_ref()
                .unwrap()
                .device_index,
            1
        );
        assert_eq!(
            i.ipv6_addresses(),
            [
                "2001:db8:1234:1a00:9691:9503:25ad:1761"
                    .parse::<Ipv6Addr>()
                    .unwrap(),
                "2001:db8:1234:1a00::88".parse().unwrap()
            ]
        );
    }

    #[test]
    fn assign_ipv6_reads_prefixes_and_addresses() {
        let r = assign_ipv6(&fixture("prefix")).unwrap();
        assert_eq!(r.network_interface_id, "eni-0f7db2c6b5e1a0c11");
        assert_eq!(
            r.prefixes,
            ["2001:db8:1234:1a00:5e3f::/80".parse::<Ipv6Net>().unwrap()]
        );
        assert!(r.addresses.is_empty());
        let r = assign_ipv6(&fixture("addresses")).unwrap();
        assert_eq!(r.addresses.len(), 2);
        assert!(r.prefixes.is_empty());
    }

    #[test]
    fn bad_values_in_a_reply_are_named() {
        let doc = "<DescribeNetworkInterfacesResponse><networkInterfaceSet><item>\
                   <networkInterfaceId>eni-1</networkInterfaceId>\
                   <ipv6PrefixSet><item><ipv6Prefix>2001:db8::/200</ipv6Prefix></item></ipv6PrefixSet>\
                   </item></networkInterfaceSet></DescribeNetworkInterfacesResponse>";
        let e = describe_network_interfaces(&xml::parse(doc).unwrap()).unwrap_err();
        assert!(
            e.0.contains("2001:db8::/200") && e.0.contains("ipv6Prefix"),
            "{}",
            e.0
        );
        let doc = "<DescribeNetworkInterfacesResponse><networkInterfaceSet><item>\
                   <subnetId>subnet-1</subnetId></item></networkInterfaceSet>\
                   </DescribeNetworkInterfacesResponse>";
        let e = describe_network_interfaces(&xml::parse(doc).unwrap()).unwrap_err();
        assert!(e.0.contains("networkInterfaceId"), "{}", e.0);
    }

    #[test]
    fn next_token_is_returned_for_pagination() {
        let doc = "<DescribeNetworkInterfacesResponse><networkInterfaceSet/>\
                   <nextToken>page2</nextToken></DescribeNetworkInterfacesResponse>";
        let (enis, next) = describe_network_interfaces(&xml::parse(doc).unwrap()).unwrap();
        assert!(enis.is_empty());
        assert_eq!(next.as_deref(), Some("page2"));
    }
}
