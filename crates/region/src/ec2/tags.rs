//! CreateTags, DeleteTags, DescribeTags over every taggable resource.

use super::error::{Ec2Error, check_id};
use super::filter::{matches, validate};
use super::model::{Filter, Tags};
use crate::ids::Kind;
use crate::state::State;

/// One row of DescribeTags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagDescription {
    /// The tagged resource's id.
    pub resource_id: String,
    /// Its type (`vpc`, `subnet`, `instance`, ...).
    pub resource_type: &'static str,
    /// The tag's key.
    pub key: String,
    /// The tag's value.
    pub value: String,
}

/// Most tags one resource may carry (EC2's limit).
pub const MAX_TAGS: usize = 50;
/// Longest tag key, in characters.
pub const MAX_TAG_KEY: usize = 128;
/// Longest tag value, in characters.
pub const MAX_TAG_VALUE: usize = 256;

/// Check tags as EC2 does before storing them: at most [`MAX_TAGS`] for `resource`, keys of
/// 1-[`MAX_TAG_KEY`] characters not starting with `aws:`, values of at most [`MAX_TAG_VALUE`].
pub fn check_tags(resource: &str, tags: &Tags) -> Result<(), Ec2Error> {
    if tags.len() > MAX_TAGS {
        return Err(Ec2Error::TagLimitExceeded {
            resource: resource.to_string(),
            count: tags.len(),
        });
    }
    for (k, v) in tags {
        let klen = k.chars().count();
        if klen == 0 || klen > MAX_TAG_KEY {
            return Err(Ec2Error::invalid(
                "Tag.Key",
                clip(k),
                format!(
                    "The tag key is {klen} characters; tag keys are 1-{MAX_TAG_KEY} characters."
                ),
            ));
        }
        if k.to_ascii_lowercase().starts_with("aws:") {
            return Err(Ec2Error::invalid(
                "Tag.Key",
                clip(k),
                "Tag keys starting with aws: are reserved for AWS; choose another key.",
            ));
        }
        let vlen = v.chars().count();
        if vlen > MAX_TAG_VALUE {
            return Err(Ec2Error::invalid(
                "Tag.Value",
                clip(v),
                format!(
                    "The value of tag {} is {vlen} characters; tag values are at most {MAX_TAG_VALUE}.",
                    clip(k)
                ),
            ));
        }
    }
    Ok(())
}

/// The first 64 characters of a value for an error message (the whole may be huge).
fn clip(s: &str) -> String {
    match s.char_indices().nth(64) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s.to_string(),
    }
}

const TAG_FILTERS: &[&str] = &["resource-id", "resource-type", "key", "value"];

impl State {
    fn tags_mut(&mut self, id: &str) -> Result<&mut Tags, Ec2Error> {
        let kind = Kind::of_id(id).ok_or_else(|| {
            Ec2Error::invalid(
                "ResourceId",
                id,
                "Tag a resource by its id, e.g. vpc-0123456789abcdef0.",
            )
        })?;
        check_id(kind, id)?;
        let nf = || Ec2Error::NotFound {
            kind,
            id: id.to_string(),
        };
        Ok(match kind {
            Kind::Vpc => &mut self.vpcs.get_mut(id).ok_or_else(nf)?.tags,
            Kind::Subnet => &mut self.subnets.get_mut(id).ok_or_else(nf)?.tags,
            Kind::InternetGateway => &mut self.internet_gateways.get_mut(id).ok_or_else(nf)?.tags,
            Kind::EgressOnlyInternetGateway => {
                &mut self.egress_only_gateways.get_mut(id).ok_or_else(nf)?.tags
            }
            Kind::RouteTable => &mut self.route_tables.get_mut(id).ok_or_else(nf)?.tags,
            Kind::SecurityGroup => &mut self.security_groups.get_mut(id).ok_or_else(nf)?.tags,
            Kind::Instance => &mut self.instances.get_mut(id).ok_or_else(nf)?.tags,
            Kind::NetworkInterface => &mut self.network_interfaces.get_mut(id).ok_or_else(nf)?.tags,
            _ => return Err(nf()),
        })
    }

    /// CreateTags: sets the tags on every resource (all exist, none passes the tag limit, or nothing changes).
    pub fn create_tags(&mut self, resources: Vec<String>, tags: Tags) -> Result<(), Ec2Error> {
        check_tags("the request", &tags)?;
        for r in resources {
            let t = self.tags_mut(&r)?;
            t.extend(tags.clone());
            if t.len() > MAX_TAGS {
                return Err(Ec2Error::TagLimitExceeded {
                    resource: r,
                    count: t.len(),
                });
            }
        }
        Ok(())
    }

    /// DeleteTags: removes the keys from every resource (every tag when `keys` is empty).
    pub fn delete_tags(
        &mut self,
        resources: Vec<String>,
        keys: Vec<String>,
    ) -> Result<(), Ec2Error> {
        for r in resources {
            let t = self.tags_mut(&r)?;
            if keys.is_empty() {
                t.clear();
            } else {
                for k in &keys {
                    t.remove(k);
                }
            }
        }
        Ok(())
    }

    /// DescribeTags: every tag of every resource that matches the filters.
    pub fn describe_tags(&self, filters: &[Filter]) -> Result<Vec<TagDescription>, Ec2Error> {
        validate(
            filters,
            "DescribeTags",
            TAG_FILTERS,
            "resource-id, resource-type, key, value",
        )?;
        let mut all: Vec<(String, Kind, &Tags)> = Vec::new();
        all.extend(
            self.vpcs
                .values()
                .map(|x| (x.id.clone(), Kind::Vpc, &x.tags)),
        );
        all.extend(
            self.subnets
                .values()
                .map(|x| (x.id.clone(), Kind::Subnet, &x.tags)),
        );
        all.extend(
            self.internet_gateways
                .values()
                .map(|x| (x.id.clone(), Kind::InternetGateway, &x.tags)),
        );
        all.extend(
            self.egress_only_gateways
                .values()
                .map(|x| (x.id.clone(), Kind::EgressOnlyInternetGateway, &x.tags)),
        );
        all.extend(
            self.route_tables
                .values()
                .map(|x| (x.id.clone(), Kind::RouteTable, &x.tags)),
        );
        all.extend(
            self.security_groups
                .values()
                .map(|x| (x.id.clone(), Kind::SecurityGroup, &x.tags)),
        );
        all.extend(
            self.instances
                .values()
                .map(|x| (x.id.clone(), Kind::Instance, &x.tags)),
        );
        all.extend(
            self.network_interfaces
                .values()
                .map(|x| (x.id.clone(), Kind::NetworkInterface, &x.tags)),
        );
        let none = Tags::new();
        let mut out = Vec::new();
        for (id, kind, tags) in all {
            for (k, v) in tags {
                let ok = matches(filters, &none, |n| match n {
                    "resource-id" => vec![id.clone()],
                    "resource-type" => vec![kind.resource_type().into()],
                    "key" => vec![k.clone()],
                    "value" => vec![v.clone()],
                    _ => vec![],
                });
                if ok {
                    out.push(TagDescription {
                        resource_id: id.clone(),
                        resource_type: kind.resource_type(),
                        key: k.clone(),
                        value: v.clone(),
                    });
                }
            }
        }
        Ok(out)
    }
}
