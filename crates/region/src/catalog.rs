//! The EC2 instance-type catalogue: hypervisor, bare metal and ENI limits per type, from
//! `data/instance-types.csv` (compiled in, so a region needs no file at run time).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// How an instance type is virtualised; the IPv6 rules admit Nitro (and bare metal) only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Hypervisor {
    /// The Nitro system.
    Nitro,
    /// Xen.
    Xen,
    /// Not known to the catalogue.
    Unknown,
}

/// One instance type of the catalogue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceType {
    /// Its name (`m5.large`).
    pub name: String,
    /// Its hypervisor.
    pub hypervisor: Hypervisor,
    /// Whether it is a bare-metal type.
    pub bare_metal: bool,
    /// Most ENIs an instance of it can have.
    pub max_enis: u32,
    /// Private IPv4 addresses per ENI (IPv6 addresses per ENI are the same number).
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

    /// The family (`m5`, `c6gn`, `t3a`) and size (`large`, `4xlarge`, `metal-24xl`).
    fn family_size(&self) -> (&str, &str) {
        self.name.split_once('.').unwrap_or((&self.name, ""))
    }

    /// `arm64` for Graviton families (a `g` after the generation digit, and `a1`), else
    /// `x86_64`. The CSV has no processor column: this is derived from the name.
    pub fn architecture(&self) -> &'static str {
        let (family, _) = self.family_size();
        let after_digit = family
            .find(|c: char| c.is_ascii_digit())
            .map(|i| &family[i + 1..])
            .unwrap_or("");
        if family == "a1" || after_digit.starts_with('g') {
            "arm64"
        } else {
            "x86_64"
        }
    }

    /// `AWS` (Graviton), `AMD` (an `a` after the generation digit) or `Intel`. Derived.
    pub fn manufacturer(&self) -> &'static str {
        let (family, _) = self.family_size();
        let after_digit = family
            .find(|c: char| c.is_ascii_digit())
            .map(|i| &family[i + 1..])
            .unwrap_or("");
        if self.architecture() == "arm64" {
            "AWS"
        } else if after_digit.starts_with('a') {
            "AMD"
        } else {
            "Intel"
        }
    }

    /// Default vCPUs by size, as EC2 sizes them (`large` 2, `xlarge` 4, `Nxlarge` 4N; `metal`
    /// 96 unless it names its size). Derived: the CSV has no vCPU column.
    pub fn vcpus(&self) -> u32 {
        let (family, size) = self.family_size();
        let size = size.strip_prefix("metal-").unwrap_or(size);
        match size {
            "nano" | "micro" | "small" => 2,
            "medium" => {
                if family.starts_with('t') {
                    2
                } else {
                    1
                }
            }
            "large" => 2,
            "xlarge" => 4,
            "metal" => 96,
            s => s
                .strip_suffix("xlarge")
                .or_else(|| s.strip_suffix("xl"))
                .and_then(|n| n.parse::<u32>().ok())
                .map(|n| n * 4)
                .unwrap_or(2),
        }
    }

    /// Memory by family letter per vCPU (c 2 GiB, m/t/general 4, r 8, x 16, z 8; nano/micro/
    /// small t-types 0.5/1/2 GiB). Derived: the CSV has no memory column.
    pub fn memory_mib(&self) -> u64 {
        let (family, size) = self.family_size();
        match size {
            "nano" => return 512,
            "micro" => return 1024,
            "small" => return 2048,
            _ => {}
        }
        let per_vcpu_gib: u64 = match family.chars().next() {
            Some('c') => 2,
            Some('r') | Some('z') => 8,
            Some('x') => 16,
            _ => 4,
        };
        u64::from(self.vcpus()) * per_vcpu_gib * 1024
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

    /// The type named `name`, if the catalogue has it.
    pub fn get(&self, name: &str) -> Option<&InstanceType> {
        self.types.get(name)
    }

    /// Every type, in name order.
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
    fn sizes_and_processors_are_derived_from_the_name() {
        let c = Catalog::builtin();
        let m5 = c.get("m5.large").unwrap();
        assert_eq!(
            (m5.vcpus(), m5.memory_mib(), m5.architecture()),
            (2, 8192, "x86_64")
        );
        let g = c.get("m6g.4xlarge").unwrap();
        assert_eq!(
            (g.vcpus(), g.architecture(), g.manufacturer()),
            (16, "arm64", "AWS")
        );
        assert_eq!(c.get("c5.xlarge").unwrap().memory_mib(), 8192);
        assert_eq!(c.get("t3.micro").unwrap().memory_mib(), 1024);
        assert!(c.all().all(|t| t.vcpus() > 0 && t.memory_mib() > 0));
    }

    #[test]
    fn nitro_and_metal_delegate_prefixes_xen_does_not() {
        let c = Catalog::builtin();
        assert!(c.get("c5.large").unwrap().supports_prefix_delegation());
        assert!(c.get("c5.metal").unwrap().supports_prefix_delegation());
        assert!(!c.get("m4.10xlarge").unwrap().supports_prefix_delegation());
    }
}
