//! Add-ons (`vpc-cni`, `kube-proxy`, `coredns`): versions from the catalogue, and the VPC CNI's
//! IPv6 rules: version 1.10.1 or later, no custom networking, prefix delegation on, and a role
//! with the IPv6 policy.

use super::catalog::{self, ADDON_NAMES, MIN_IPV6_CNI};
use super::error::{EksError, Rule};
use super::model::*;
use super::{ClusterChild, arn, child_key, role_name, uuid};
use crate::region::Env;
use crate::state::State;

/// CreateAddon / UpdateAddon as the wire layer parsed it.
#[derive(Debug, Clone, Default)]
pub struct AddonRequest {
    /// The cluster's name.
    pub cluster: String,
    /// The add-on's name (from the catalogue).
    pub name: String,
    /// `addonVersion` (default chosen from the catalogue for the cluster's version).
    pub version: Option<String>,
    /// `serviceAccountRoleArn`.
    pub service_account_role_arn: Option<String>,
    /// `configurationValues` (JSON or YAML text).
    pub configuration_values: Option<String>,
    /// Tags.
    pub tags: Tags,
}

/// The VPC CNI settings the IPv6 rules look at, read from `configurationValues` (JSON).
fn check_cni_configuration(cluster: &Cluster, values: &str) -> Result<(), EksError> {
    let v: serde_json::Value = serde_json::from_str(values).map_err(|e| {
        EksError::invalid(
            "configurationValues",
            values,
            format!("configurationValues must be a JSON object ({e}), e.g. {{\"env\":{{\"WARM_PREFIX_TARGET\":\"1\"}}}}."),
        )
    })?;
    if !v.is_object() {
        return Err(EksError::invalid(
            "configurationValues",
            values,
            "configurationValues must be a JSON object.",
        ));
    }
    if cluster.ip_family != IpFamily::Ipv6 {
        return Ok(());
    }
    let env = v.get("env");
    let flag = |k: &str| {
        env.and_then(|e| e.get(k)).map(|x| match x {
            serde_json::Value::String(s) => s.to_ascii_lowercase(),
            other => other.to_string(),
        })
    };
    if flag("AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG").as_deref() == Some("true")
        || v.get("eniConfig").is_some()
    {
        return Err(EksError::rule(
            Rule::NoCustomNetworking,
            values,
            format!(
                "configurationValues turn on custom networking (AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG / eniConfig), which does not work in IPv6 cluster {}.",
                cluster.name
            ),
            "remove AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG and eniConfig; pods take their addresses from the node's /80.",
        ));
    }
    if flag("ENABLE_PREFIX_DELEGATION").as_deref() == Some("false") {
        return Err(EksError::rule(
            Rule::PrefixDelegation,
            values,
            format!(
                "configurationValues turn off prefix delegation (ENABLE_PREFIX_DELEGATION=false); IPv6 cluster {} needs one /80 prefix per node.",
                cluster.name
            ),
            "remove ENABLE_PREFIX_DELEGATION or set it to \"true\".",
        ));
    }
    Ok(())
}

impl ClusterChild for Addon {
    const LIST: &'static str = "ListAddons";
    fn name(&self) -> &str {
        &self.name
    }
    fn not_found(cluster: &str, name: &str) -> EksError {
        EksError::AddonNotFound {
            cluster: cluster.to_string(),
            addon: name.to_string(),
        }
    }
}

impl State {
    fn addon(&self, cluster: &str, name: &str) -> Result<&Addon, EksError> {
        self.child(&self.addons, cluster, name)
    }

    /// The version to install and every rule of the request; returns the version.
    fn check_addon(
        &self,
        env: &Env,
        cluster: &Cluster,
        req: &AddonRequest,
        current: Option<&Addon>,
    ) -> Result<String, EksError> {
        let info = catalog::addon(&req.name).ok_or_else(|| {
            EksError::invalid(
                "addonName",
                req.name.clone(),
                format!("Add-ons offered: {}.", ADDON_NAMES.join(", ")),
            )
        })?;
        let version = match (&req.version, current) {
            (Some(v), _) => v.clone(),
            (None, Some(a)) => a.version.clone(),
            (None, None) => info
                .default_for(&cluster.version)
                .map(|v| v.version.clone())
                .unwrap_or_default(),
        };
        let offered = info
            .versions
            .iter()
            .any(|v| v.version == version && v.kubernetes.contains(&cluster.version.as_str()));
        if !offered {
            return Err(EksError::invalid(
                "addonVersion",
                version,
                format!(
                    "See `aws eks describe-addon-versions --addon-name {} --kubernetes-version {}`.",
                    req.name, cluster.version
                ),
            ));
        }
        if let Some(r) = &req.service_account_role_arn {
            role_name("serviceAccountRoleArn", r)?;
        }
        if let Some(values) = &req.configuration_values {
            if req.name == "vpc-cni" {
                check_cni_configuration(cluster, values)?;
            } else if !values.trim().is_empty()
                && serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(values)
                    .is_err()
            {
                return Err(EksError::invalid(
                    "configurationValues",
                    values.clone(),
                    "configurationValues must be a JSON object.",
                ));
            }
        }
        if req.name == "vpc-cni" && cluster.ip_family == IpFamily::Ipv6 {
            let below = catalog::semver(&version).is_some_and(|v| v < MIN_IPV6_CNI);
            if below {
                let nodes = self.cluster_nodes(&cluster.name);
                match current {
                    None => {
                        return Err(EksError::rule(
                            Rule::CniMinVersion,
                            version.clone(),
                            format!(
                                "vpc-cni {version} cannot run IPv6 cluster {}; IPv6 needs 1.10.1 or later.",
                                cluster.name
                            ),
                            "use --addon-version v1.10.1-eksbuild.1 or later (or leave it out for the default).",
                        ));
                    }
                    Some(_) if !nodes.is_empty() => {
                        return Err(EksError::rule(
                            Rule::CniDowngradeWithNodes,
                            version.clone(),
                            format!(
                                "vpc-cni cannot go below 1.10.1 (requested {version}) while IPv6 cluster {} has nodes ({}).",
                                cluster.name,
                                nodes.join(", ")
                            ),
                            "keep vpc-cni at 1.10.1 or later, or delete every node group of the cluster first.",
                        ));
                    }
                    Some(_) => {}
                }
            }
            if let Some(r) = &req.service_account_role_arn {
                self.check_ipv6_policy(
                    &env.config.name,
                    &env.config.account_id,
                    "serviceAccountRoleArn",
                    r,
                )?;
            }
        }
        Ok(version)
    }

    /// CreateAddon: installs the add-on (its version checked against the catalogue and the IPv6 rules).
    pub fn create_addon(&mut self, env: &mut Env, req: AddonRequest) -> Result<Addon, EksError> {
        let cluster = self.cluster(&req.cluster)?.clone();
        let key = child_key(&cluster.name, &req.name);
        if self.addons.contains(&key) {
            return Err(EksError::AddonExists {
                cluster: cluster.name,
                addon: req.name,
            });
        }
        let version = self.check_addon(env, &cluster, &req, None)?;
        let id = uuid(env.rng);
        let a = Addon {
            name: req.name.clone(),
            cluster: cluster.name.clone(),
            arn: arn(env, &format!("addon/{}/{}/{id}", cluster.name, req.name)),
            version,
            service_account_role_arn: req.service_account_role_arn,
            configuration_values: req.configuration_values,
            created_at: env.now,
            modified_at: env.now,
            tags: req.tags,
        };
        self.addons.insert(key, a.clone());
        Ok(a)
    }

    /// DescribeAddon: the add-on, or `AddonNotFound`.
    pub fn describe_addon(&self, cluster: &str, name: &str) -> Result<Addon, EksError> {
        self.addon(cluster, name).cloned()
    }

    /// ListAddons: one page of the cluster's add-on names and the token of the next page.
    pub fn list_addons(
        &self,
        cluster: &str,
        max_results: Option<u32>,
        next_token: Option<&str>,
    ) -> Result<(Vec<String>, Option<String>), EksError> {
        self.list_children(&self.addons, cluster, max_results, next_token)
    }

    /// UpdateAddon: version, role or configuration; every rule is checked again.
    pub fn update_addon(&mut self, env: &mut Env, req: AddonRequest) -> Result<Update, EksError> {
        let current = self.addon(&req.cluster, &req.name)?.clone();
        let cluster = self.cluster(&req.cluster)?.clone();
        let mut effective = req.clone();
        if effective.service_account_role_arn.is_none() {
            effective.service_account_role_arn = current.service_account_role_arn.clone();
        }
        let version = self.check_addon(env, &cluster, &effective, Some(&current))?;
        let mut params = Vec::new();
        let mut next = current.clone();
        if req.version.is_some() {
            params.push(("AddonVersion".to_string(), version.clone()));
            next.version = version;
        }
        if let Some(r) = &req.service_account_role_arn {
            params.push(("ServiceAccountRoleArn".into(), r.clone()));
            next.service_account_role_arn = Some(r.clone());
        }
        if let Some(c) = &req.configuration_values {
            params.push(("ConfigurationValues".into(), c.clone()));
            next.configuration_values = Some(c.clone());
        }
        next.modified_at = env.now;
        self.addons
            .insert(child_key(&cluster.name, &req.name), next);
        Ok(self.record_update(
            env,
            &cluster.name,
            None,
            Some(req.name),
            "AddonUpdate",
            params,
        ))
    }

    /// DeleteAddon (reported `DELETING`).
    pub fn delete_addon(&mut self, cluster: &str, name: &str) -> Result<Addon, EksError> {
        let a = self.addon(cluster, name)?.clone();
        self.addons.remove(&child_key(cluster, name));
        Ok(a)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eks::nodegroups::tests::{ipv6_world, request};
    use crate::eks::roles::IPV6_POLICY_DOCUMENT;

    fn cni(version: Option<&str>) -> AddonRequest {
        AddonRequest {
            cluster: "c".into(),
            name: "vpc-cni".into(),
            version: version.map(str::to_string),
            ..Default::default()
        }
    }

    #[test]
    fn ipv6_needs_cni_1_10_1() {
        let (mut w, _) = ipv6_world();
        let e = w
            .with(|s, env| s.create_addon(env, cni(Some("v1.9.3-eksbuild.1"))))
            .unwrap_err();
        assert_eq!(e.rule_id(), Some(Rule::CniMinVersion));
        let a = w
            .with(|s, env| s.create_addon(env, cni(Some("v1.10.1-eksbuild.1"))))
            .unwrap();
        assert_eq!(a.version, "v1.10.1-eksbuild.1");
    }

    #[test]
    fn cni_cannot_go_below_1_10_1_while_nodes_exist() {
        let (mut w, subnet) = ipv6_world();
        w.with(|s, env| s.create_addon(env, cni(None))).unwrap();
        w.with(|s, env| s.create_nodegroup(env, request("c", &subnet)))
            .unwrap();
        let e = w
            .with(|s, env| s.update_addon(env, cni(Some("v1.9.3-eksbuild.1"))))
            .unwrap_err();
        assert_eq!(e.rule_id(), Some(Rule::CniDowngradeWithNodes));
        assert!(
            w.with(|s, env| s.update_addon(env, cni(Some("v1.12.6-eksbuild.2"))))
                .is_ok()
        );
        w.state.delete_nodegroup("c", "ng").unwrap();
        assert!(
            w.with(|s, env| s.update_addon(env, cni(Some("v1.9.3-eksbuild.1"))))
                .is_ok()
        );
        // ... and then no nodes may join until it is upgraded again.
        let e = w
            .with(|s, env| s.create_nodegroup(env, request("c", &subnet)))
            .unwrap_err();
        assert_eq!(e.rule_id(), Some(Rule::CniMinVersion));
    }

    #[test]
    fn custom_networking_and_disabled_prefix_delegation_are_rejected() {
        let (mut w, _) = ipv6_world();
        let mut r = cni(None);
        r.configuration_values =
            Some(r#"{"env":{"AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG":"true"}}"#.into());
        assert_eq!(
            w.with(|s, env| s.create_addon(env, r.clone()))
                .unwrap_err()
                .rule_id(),
            Some(Rule::NoCustomNetworking)
        );
        r.configuration_values = Some(r#"{"eniConfig":{"create":true}}"#.into());
        assert_eq!(
            w.with(|s, env| s.create_addon(env, r.clone()))
                .unwrap_err()
                .rule_id(),
            Some(Rule::NoCustomNetworking)
        );
        r.configuration_values = Some(r#"{"env":{"ENABLE_PREFIX_DELEGATION":"false"}}"#.into());
        assert_eq!(
            w.with(|s, env| s.create_addon(env, r.clone()))
                .unwrap_err()
                .rule_id(),
            Some(Rule::PrefixDelegation)
        );
        r.configuration_values =
            Some(r#"{"env":{"ENABLE_PREFIX_DELEGATION":"true","WARM_PREFIX_TARGET":"1"}}"#.into());
        assert!(w.with(|s, env| s.create_addon(env, r)).is_ok());
    }

    #[test]
    fn the_cni_role_needs_the_ipv6_policy() {
        let (mut w, _) = ipv6_world();
        w.with(|s, env| {
            s.create_role(env, crate::iam::roles::CreateRole::named("cni"))
                .unwrap()
        });
        let mut r = cni(None);
        r.service_account_role_arn = Some("arn:aws:iam::123456789012:role/cni".into());
        let e = w.with(|s, env| s.create_addon(env, r.clone())).unwrap_err();
        assert_eq!(e.rule_id(), Some(Rule::CniIpv6Policy));
        assert!(e.to_string().contains("ec2:AssignIpv6Addresses"), "{e}");
        w.state
            .put_role_policy("cni", "ipv6", IPV6_POLICY_DOCUMENT)
            .unwrap();
        assert!(w.with(|s, env| s.create_addon(env, r)).is_ok());
    }

    #[test]
    fn unknown_addons_and_versions_are_invalid() {
        let (mut w, _) = ipv6_world();
        let mut r = cni(Some("v9.9.9"));
        assert!(matches!(
            w.with(|s, env| s.create_addon(env, r.clone())),
            Err(EksError::InvalidParameter { member, .. }) if member == "addonVersion"
        ));
        r.name = "nope".into();
        assert!(matches!(
            w.with(|s, env| s.create_addon(env, r)),
            Err(EksError::InvalidParameter { member, .. }) if member == "addonName"
        ));
    }
}
