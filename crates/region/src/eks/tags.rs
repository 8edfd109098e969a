//! EKS resource tags by ARN (`TagResource`, `UntagResource`, `ListTagsForResource`) on clusters,
//! node groups, add-ons and Fargate profiles. Cluster tags carry the workload declarations the
//! health checks read (`sixfold.io/storage`, the load balancer controller's version and target
//! type), so changing them changes `health.issues` on the next read.

use super::error::EksError;
use super::model::Tags;
use super::{child_key, health};
use crate::state::State;

/// Most tags on one resource (botocore's `TagMap`).
pub const MAX_TAGS: usize = 50;
const MAX_KEY: usize = 128;
const MAX_VALUE: usize = 256;

/// The row an EKS ARN names.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    Cluster(String),
    Nodegroup(String),
    Addon(String),
    FargateProfile(String),
}

fn bad_arn(arn: &str) -> EksError {
    EksError::BadRequest {
        message: format!(
            "{} is not an EKS resource ARN; give the arn of a cluster, node group, add-on or Fargate profile (e.g. arn:aws:eks:us-east-1:123456789012:cluster/my-cluster, from describe-cluster).",
            arn.chars().take(300).collect::<String>()
        ),
    }
}

fn parse(arn: &str) -> Result<Target, EksError> {
    let mut parts = arn.splitn(6, ':');
    let (Some("arn"), Some(_), Some("eks"), Some(_), Some(_), Some(resource)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err(bad_arn(arn));
    };
    let seg: Vec<&str> = resource.split('/').collect();
    Ok(match seg.as_slice() {
        ["cluster", c] => Target::Cluster((*c).to_string()),
        ["nodegroup", c, n, _] => Target::Nodegroup(child_key(c, n)),
        ["addon", c, a, _] => Target::Addon(child_key(c, a)),
        ["fargateprofile", c, p, _] => Target::FargateProfile(child_key(c, p)),
        _ => return Err(bad_arn(arn)),
    })
}

fn check_tags(tags: &Tags) -> Result<(), EksError> {
    if tags.is_empty() {
        return Err(EksError::BadRequest {
            message: "tags is empty; give 1 to 50 tags.".into(),
        });
    }
    for (k, v) in tags {
        if k.is_empty() || k.chars().count() > MAX_KEY || v.chars().count() > MAX_VALUE {
            return Err(EksError::BadRequest {
                message: format!(
                    "Tag {k}={v} is not allowed: keys are 1 to {MAX_KEY} characters, values up to {MAX_VALUE}."
                ),
            });
        }
        if k.to_ascii_lowercase().starts_with("aws:") {
            return Err(EksError::BadRequest {
                message: format!("Tag key {k} uses the reserved prefix aws:; choose another key."),
            });
        }
    }
    Ok(())
}

impl State {
    fn eks_tags_of(&self, arn: &str) -> Result<&Tags, EksError> {
        let not_found = || EksError::ArnNotFound {
            arn: arn.to_string(),
        };
        let t = match parse(arn)? {
            Target::Cluster(k) => self
                .clusters
                .get(&k)
                .filter(|x| x.arn == arn)
                .map(|x| &x.tags),
            Target::Nodegroup(k) => self
                .nodegroups
                .get(&k)
                .filter(|x| x.arn == arn)
                .map(|x| &x.tags),
            Target::Addon(k) => self
                .addons
                .get(&k)
                .filter(|x| x.arn == arn)
                .map(|x| &x.tags),
            Target::FargateProfile(k) => self
                .fargate_profiles
                .get(&k)
                .filter(|x| x.arn == arn)
                .map(|x| &x.tags),
        };
        t.ok_or_else(not_found)
    }

    fn eks_tags_mut(&mut self, arn: &str) -> Result<&mut Tags, EksError> {
        self.eks_tags_of(arn)?;
        let t = match parse(arn)? {
            Target::Cluster(k) => self.clusters.get_mut(&k).map(|x| &mut x.tags),
            Target::Nodegroup(k) => self.nodegroups.get_mut(&k).map(|x| &mut x.tags),
            Target::Addon(k) => self.addons.get_mut(&k).map(|x| &mut x.tags),
            Target::FargateProfile(k) => self.fargate_profiles.get_mut(&k).map(|x| &mut x.tags),
        };
        t.ok_or_else(|| EksError::ArnNotFound {
            arn: arn.to_string(),
        })
    }

    /// ListTagsForResource.
    pub fn list_tags_for_resource(&self, arn: &str) -> Result<Tags, EksError> {
        self.eks_tags_of(arn).cloned()
    }

    /// TagResource: add or overwrite `tags` (at most [`MAX_TAGS`] on the resource afterwards).
    pub fn tag_resource(&mut self, arn: &str, tags: Tags) -> Result<(), EksError> {
        check_tags(&tags)?;
        let current = self.eks_tags_mut(arn)?;
        let mut next = current.clone();
        next.extend(tags);
        if next.len() > MAX_TAGS {
            return Err(EksError::BadRequest {
                message: format!(
                    "{arn} would have {} tags; a resource has at most {MAX_TAGS}. Remove some with untag-resource first.",
                    next.len()
                ),
            });
        }
        *current = next;
        Ok(())
    }

    /// UntagResource: remove `keys` (keys it does not have are ignored, as on AWS).
    pub fn untag_resource(&mut self, arn: &str, keys: &[String]) -> Result<(), EksError> {
        if keys.is_empty() || keys.len() > MAX_TAGS {
            return Err(EksError::BadRequest {
                message: format!("tagKeys has {} keys; give 1 to {MAX_TAGS}.", keys.len()),
            });
        }
        let current = self.eks_tags_mut(arn)?;
        for k in keys {
            current.remove(k);
        }
        Ok(())
    }
}

/// The cluster tags the health checks read, for documentation and messages.
pub const WORKLOAD_TAGS: [&str; 3] = [
    health::TAG_STORAGE,
    health::TAG_LBC_VERSION,
    health::TAG_LBC_TARGET_TYPE,
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eks::error::Rule;
    use crate::eks::nodegroups::tests::ipv6_world;

    #[test]
    fn cluster_tags_drive_the_workload_health_checks() {
        let (mut w, _) = ipv6_world();
        let arn = w.state.clusters.get("c").unwrap().arn.clone();
        let rules = |w: &crate::eks::testing::World| -> Vec<Rule> {
            let c = w.state.clusters.get("c").unwrap().clone();
            w.state
                .cluster_health(&c, "us-east-1", "123456789012")
                .iter()
                .map(|i| i.rule)
                .collect()
        };
        assert!(!rules(&w).contains(&Rule::NoFsxLustre));
        let tags = Tags::from([(health::TAG_STORAGE.to_string(), "fsx-lustre".to_string())]);
        w.state.tag_resource(&arn, tags).unwrap();
        assert!(rules(&w).contains(&Rule::NoFsxLustre));
        w.state
            .untag_resource(&arn, &[health::TAG_STORAGE.to_string()])
            .unwrap();
        assert!(!rules(&w).contains(&Rule::NoFsxLustre));
    }

    #[test]
    fn bad_arns_and_tags_are_refused_and_unknown_resources_not_found() {
        let (mut w, _) = ipv6_world();
        let arn = w.state.clusters.get("c").unwrap().arn.clone();
        let one = |k: &str| Tags::from([(k.to_string(), "v".to_string())]);
        assert!(matches!(
            w.state.tag_resource("nope", one("a")),
            Err(EksError::BadRequest { .. })
        ));
        assert!(matches!(
            w.state.tag_resource(&arn.replace("/c", "/x"), one("a")),
            Err(EksError::ArnNotFound { .. })
        ));
        assert!(matches!(
            w.state.tag_resource(&arn, one("aws:x")),
            Err(EksError::BadRequest { .. })
        ));
        let many: Tags = (0..51)
            .map(|i| (format!("k{i}"), "v".to_string()))
            .collect();
        assert!(w.state.tag_resource(&arn, many).is_err());
        assert!(w.state.list_tags_for_resource(&arn).unwrap().is_empty());
    }
}
