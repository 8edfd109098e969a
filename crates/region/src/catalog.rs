//! The EC2 instance-type catalogue: hypervisor, bare metal and ENI limits per type, from
//! `data/instance-types.csv` (compiled in, so a region needs no file at run time).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Hypervisor {
    Nitro,
    Xen,
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceType {
    pub name: String,
    pub hypervisor: Hypervisor,
    pub bare_metal: bool,
    pub max_enis: u32,
    pub ipv4_per_eni: u32,
}

impl InstanceType {
    /// IPv6 prefix delegation works on Nitro-based and bare-metal instances only.
    pub fn supports_prefix_delegation(&self) -> bool {
        self.hypervisor == Hypervisor::Nitro || self.bare_metal
    }

    /// IPv6 addresses per interface (EC2 gives the same number as IPv4 addresses).
    pub fn ipv6_per_eni(&self) -> u32 {
        self.ipv4_per_eni
    }
}

/// All known instance types by name.
#[derive(Debug, Clone)]
pub struct Catalog {
    types: BTreeMap<String, InstanceType>,
}

const CSV: &str = include_str!("../data/instance-types.csv");

impl Catalog {
    /// The compiled-in catalogue.
    pub fn builtin() -> Self {
        // The CSV is part of the source tree and checked by a unit test; malformed lines are
        // skipped rather than taking the region down.
        let mut types = BTreeMap::new();
        for line in CSV.lines().skip(1) {
            if let Some(t) = parse_line(line) {
                types.insert(t.name.clone(), t);
            }
        }
        Self { types }
    }

    pub fn get(&self, name: &str) -> Option<&InstanceType> {
        self.types.get(name)
    }

    pub fn all(&self) -> impl Iterator<Item = &InstanceType> {
        self.types.values()
    }
}

fn parse_line(line: &str) -> Option<InstanceType> {
    let mut f = line.trim().split(',');
    let name = f.next()?.to_string();
    let hypervisor = match f.next()? {
        "nitro" => Hypervisor::Nitro,
        "xen" => Hypervisor::Xen,
        _ => Hypervisor::Unknown,
    };
    let bare_metal = f.next()? == "true";
    let max_enis = f.next()?.parse().ok()?;
    let ipv4_per_eni = f.next()?.parse().ok()?;
    Some(InstanceType {
        name,
        hypervisor,
        bare_metal,
        max_enis,
        ipv4_per_eni,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_csv_line_parses() {
        let lines = CSV.lines().skip(1).filter(|l| !l.trim().is_empty()).count();
        assert_eq!(Catalog::builtin().all().count(), lines);
    }

    #[test]
    fn nitro_and_metal_delegate_prefixes_xen_does_not() {
        let c = Catalog::builtin();
        assert!(c.get("c5.large").unwrap().supports_prefix_delegation());
        assert!(c.get("c5.metal").unwrap().supports_prefix_delegation());
        assert!(!c.get("m4.10xlarge").unwrap().supports_prefix_delegation());
    }
}
