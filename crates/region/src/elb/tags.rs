//! Tags of load balancers, target groups and listeners: `AddTags`, `RemoveTags`, `DescribeTags`.

use super::model::{MAX_TAGS, Tags};
use super::{ArnKind, ElbError, arn_kind};
use crate::state::State;

/// Most resources one tagging call names (AWS: 20).
pub const MAX_RESOURCES: usize = 20;

/// Check a tag set: at most [`MAX_TAGS`], keys of 1–128 characters not starting with `aws:`,
/// values of at most 256.
pub fn check_tags(tags: &Tags) -> Result<(), ElbError> {
    if tags.len() > MAX_TAGS {
        return Err(ElbError::TooManyTags {
            message: format!(
                "{} tags exceed the quota of {MAX_TAGS} per resource; remove some.",
                tags.len()
            ),
        });
    }
    for (k, v) in tags {
        if k.is_empty() || k.chars().count() > 128 {
            return Err(ElbError::invalid(
                "Tag.Key",
                k,
                "Give a key of 1 to 128 characters.",
            ));
        }
        if k.starts_with("aws:") {
            return Err(ElbError::invalid(
                "Tag.Key",
                k,
                "Keys starting with aws: are reserved for AWS.",
            ));
        }
        if v.chars().count() > 256 {
            return Err(ElbError::invalid(
                "Tag.Value",
                format!("{}...", v.chars().take(20).collect::<String>()),
                "Give a value of at most 256 characters.",
            ));
        }
    }
    Ok(())
}

fn check_arns(arns: &[String]) -> Result<(), ElbError> {
    if arns.is_empty() || arns.len() > MAX_RESOURCES {
        return Err(ElbError::invalid(
            "ResourceArns",
            format!("{} ARNs", arns.len()),
            format!("Give 1 to {MAX_RESOURCES} resource ARNs."),
        ));
    }
    Ok(())
}

impl State {
    fn elb_tags_of(&mut self, arn: &str) -> Result<&mut Tags, ElbError> {
        match arn_kind(arn) {
            Some(ArnKind::LoadBalancer) => self
                .elb_load_balancers
                .get_mut(arn)
                .map(|l| &mut l.tags)
                .ok_or_else(|| ElbError::LoadBalancerNotFound(arn.into())),
            Some(ArnKind::TargetGroup) => self
                .elb_target_groups
                .get_mut(arn)
                .map(|t| &mut t.tags)
                .ok_or_else(|| ElbError::TargetGroupNotFound(arn.into())),
            Some(ArnKind::Listener) => self
                .elb_listeners
                .get_mut(arn)
                .map(|l| &mut l.tags)
                .ok_or_else(|| ElbError::ListenerNotFound(arn.into())),
            None => Err(ElbError::invalid(
                "ResourceArns",
                arn,
                "Give the ARN of a load balancer, target group or listener.",
            )),
        }
    }

    /// `AddTags`: every resource gets every tag (existing keys are overwritten).
    pub fn elb_add_tags(&mut self, arns: &[String], tags: &Tags) -> Result<(), ElbError> {
        check_arns(arns)?;
        check_tags(tags)?;
        for a in arns {
            let t = self.elb_tags_of(a)?;
            t.extend(tags.iter().map(|(k, v)| (k.clone(), v.clone())));
            check_tags(t)?;
        }
        Ok(())
    }

    /// `RemoveTags`: keys a resource does not have are ignored.
    pub fn elb_remove_tags(&mut self, arns: &[String], keys: &[String]) -> Result<(), ElbError> {
        check_arns(arns)?;
        if keys.is_empty() || keys.len() > MAX_TAGS {
            return Err(ElbError::invalid(
                "TagKeys",
                format!("{} keys", keys.len()),
                format!("Give 1 to {MAX_TAGS} keys."),
            ));
        }
        for a in arns {
            let t = self.elb_tags_of(a)?;
            for k in keys {
                t.remove(k);
            }
        }
        Ok(())
    }

    /// `DescribeTags`: (ARN, tags) per resource, in request order.
    pub fn elb_describe_tags(&self, arns: &[String]) -> Result<Vec<(String, Tags)>, ElbError> {
        check_arns(arns)?;
        arns.iter()
            .map(|a| {
                let tags = match arn_kind(a) {
                    Some(ArnKind::LoadBalancer) => self.load_balancer(a)?.tags.clone(),
                    Some(ArnKind::TargetGroup) => self.target_group(a)?.tags.clone(),
                    Some(ArnKind::Listener) => self
                        .elb_listeners
                        .get(a)
                        .ok_or_else(|| ElbError::ListenerNotFound(a.clone()))?
                        .tags
                        .clone(),
                    None => {
                        return Err(ElbError::invalid(
                            "ResourceArns",
                            a,
                            "Give the ARN of a load balancer, target group or listener.",
                        ));
                    }
                };
                Ok((a.clone(), tags))
            })
            .collect()
    }
}
