//! Routing (method + path → operation) and each operation: read the request, run it on the
//! region, render the answer.

use axum::http::Method;
use region::Region;
use region::eks::catalog;
use region::eks::model::*;
use region::eks::tokens::Idempotency;
use region::eks::{EksError, child_key, paginate};
use serde_json::{Value, json};

use super::Reply;
use super::json::{decode, parse_body};
use super::render;
use super::wire::{
    AddonBody, CreateClusterBody, CreateFargateProfileBody, CreateNodegroupBody, TagsBody,
    UpdateClusterConfigBody, UpdateNodegroupConfigBody,
};

/// An EKS operation and its path parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    CreateCluster,
    ListClusters,
    DescribeCluster(String),
    DeleteCluster(String),
    UpdateClusterConfig(String),
    ListUpdates(String),
    DescribeUpdate(String, String),
    CreateNodegroup(String),
    ListNodegroups(String),
    DescribeNodegroup(String, String),
    DeleteNodegroup(String, String),
    CreateAddon(String),
    ListAddons(String),
    DescribeAddon(String, String),
    UpdateAddon(String, String),
    DeleteAddon(String, String),
    DescribeAddonVersions,
    CreateFargateProfile(String),
    ListFargateProfiles(String),
    DescribeFargateProfile(String, String),
    DeleteFargateProfile(String, String),
    UpdateNodegroupConfig(String, String),
    TagResource(String),
    UntagResource(String),
    ListTagsForResource(String),
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let Some(v) = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl Route {
    /// The operation at `method` `raw_path`; unknown routes get a 404 naming the path.
    pub fn parse(method: &Method, raw_path: &str) -> Result<Route, Reply> {
        let segs: Vec<String> = raw_path
            .trim_end_matches('/')
            .split('/')
            .skip(1)
            .map(percent_decode)
            .collect();
        let s: Vec<&str> = segs.iter().map(String::as_str).collect();
        if let Err(e) = super::limits::check_path(&s) {
            return Err(Reply::from_domain(&e, ""));
        }
        let m = method.as_str();
        let o = |x: &str| x.to_string();
        let r = match (m, s.as_slice()) {
            ("POST", ["clusters"]) => Route::CreateCluster,
            ("GET", ["clusters"]) => Route::ListClusters,
            ("GET", ["clusters", c]) => Route::DescribeCluster(o(c)),
            ("DELETE", ["clusters", c]) => Route::DeleteCluster(o(c)),
            ("POST", ["clusters", c, "update-config"]) => Route::UpdateClusterConfig(o(c)),
            ("GET", ["clusters", c, "updates"]) => Route::ListUpdates(o(c)),
            ("GET", ["clusters", c, "updates", u]) => Route::DescribeUpdate(o(c), o(u)),
            ("POST", ["clusters", c, "node-groups"]) => Route::CreateNodegroup(o(c)),
            ("GET", ["clusters", c, "node-groups"]) => Route::ListNodegroups(o(c)),
            ("GET", ["clusters", c, "node-groups", n]) => Route::DescribeNodegroup(o(c), o(n)),
            ("DELETE", ["clusters", c, "node-groups", n]) => Route::DeleteNodegroup(o(c), o(n)),
            ("POST", ["clusters", c, "addons"]) => Route::CreateAddon(o(c)),
            ("GET", ["clusters", c, "addons"]) => Route::ListAddons(o(c)),
            ("GET", ["clusters", c, "addons", a]) => Route::DescribeAddon(o(c), o(a)),
            ("POST", ["clusters", c, "addons", a, "update"]) => Route::UpdateAddon(o(c), o(a)),
            ("DELETE", ["clusters", c, "addons", a]) => Route::DeleteAddon(o(c), o(a)),
            ("GET", ["addons", "supported-versions"]) => Route::DescribeAddonVersions,
            ("POST", ["clusters", c, "fargate-profiles"]) => Route::CreateFargateProfile(o(c)),
            ("GET", ["clusters", c, "fargate-profiles"]) => Route::ListFargateProfiles(o(c)),
            ("GET", ["clusters", c, "fargate-profiles", p]) => {
                Route::DescribeFargateProfile(o(c), o(p))
            }
            ("DELETE", ["clusters", c, "fargate-profiles", p]) => {
                Route::DeleteFargateProfile(o(c), o(p))
            }
            ("POST", ["clusters", c, "node-groups", n, "update-config"]) => {
                Route::UpdateNodegroupConfig(o(c), o(n))
            }
            ("POST", ["tags", a]) => Route::TagResource(o(a)),
            ("DELETE", ["tags", a]) => Route::UntagResource(o(a)),
            ("GET", ["tags", a]) => Route::ListTagsForResource(o(a)),
            _ => {
                return Err(Reply::error(
                    404,
                    "UnknownOperationException",
                    &format!(
                        "No EKS operation is served at {m} {raw_path}; this region serves the cluster, node group, add-on, Fargate profile, update and tag operations of EKS 2017-11-01 (see docs/region.md)."
                    ),
                ));
            }
        };
        Ok(r)
    }
}

/// Run one operation; every failure becomes the wire error of [`super::error`].
/// `issuer_base` is the URL prefix of the clusters' OIDC issuers (`<endpoint>/oidc/`).
pub fn run(
    region: &Region,
    route: Route,
    query: &[(String, String)],
    body: &[u8],
    request_id: &str,
    issuer_base: &str,
) -> Reply {
    match dispatch(region, route, query, body, issuer_base) {
        Ok(v) => Reply::ok(v),
        Err(e) => Reply::from_domain(&e, request_id),
    }
}

fn q<'a>(query: &'a [(String, String)], name: &str) -> Option<&'a str> {
    query
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn q_u32(query: &[(String, String)], name: &'static str) -> Result<Option<u32>, EksError> {
    q(query, name)
        .map(|v| {
            v.parse::<u32>().map_err(|_| {
                EksError::invalid(name, v, format!("{name} must be a positive integer."))
            })
        })
        .transpose()
}

fn health(region: &Region, c: &Cluster) -> Vec<region::eks::health::HealthIssue> {
    let cfg = region.config();
    region.read().cluster_health(c, &cfg.name, &cfg.account_id)
}

/// A digest of a mutating request for its `clientRequestToken`: the route and the body without
/// the token (JSON objects are compared with sorted keys).
fn fingerprint(route: &Route, body: &Value) -> String {
    let mut b = body.clone();
    if let Some(m) = b.as_object_mut() {
        m.remove("clientRequestToken");
    }
    let r = format!("{route:?}");
    let text = b.to_string();
    format!(
        "{:016x}",
        region::eks::fnv64(&[r.as_bytes(), text.as_bytes()])
    )
}

/// An update operation (UpdateClusterConfig, UpdateNodegroupConfig, UpdateAddon) with
/// `clientRequestToken` replay: a replay answers the first call's `update`.
fn idempotent_update(
    region: &Region,
    operation: &'static str,
    cluster: &str,
    v: &Value,
    fp: &str,
    run: impl Fn(&mut region::state::State, &mut region::Env) -> Result<Update, EksError>,
) -> Result<Value, EksError> {
    let u = region.write(|s, env| {
        s.idempotent(
            env,
            call(operation, cluster, v, fp)?,
            |s, id| s.updates.get(id).cloned(),
            |s, env| run(s, env),
            |u| u.id.clone(),
        )
    })?;
    Ok(json!({"update": render::update(&u, true)}))
}

/// The idempotency scope of a call on `cluster` with the request body `v`.
fn call<'a>(
    operation: &'static str,
    cluster: &'a str,
    v: &'a Value,
    fp: &'a str,
) -> Result<Idempotency<'a>, EksError> {
    let token = match v.get("clientRequestToken") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.as_str()),
        Some(other) => {
            return Err(EksError::invalid(
                "clientRequestToken",
                other.to_string(),
                "clientRequestToken must be a string.",
            ));
        }
    };
    Ok(Idempotency {
        operation,
        cluster,
        token,
        fingerprint: fp,
    })
}

fn page(key: &str, items: Vec<String>, next: Option<String>) -> Value {
    let mut v = json!({ key: items });
    if let Some(t) = next {
        v["nextToken"] = json!(t);
    }
    v
}

/// One request's inputs, shared by the operation handlers below.
struct Cx<'a> {
    region: &'a Region,
    /// The route as parsed, for the `clientRequestToken` fingerprint.
    route: &'a Route,
    query: &'a [(String, String)],
    body: &'a [u8],
    issuer_base: &'a str,
}

impl Cx<'_> {
    /// The cluster's OIDC issuer URL.
    fn issuer(&self, c: &Cluster) -> String {
        format!("{}{}", self.issuer_base, c.id)
    }

    /// The `maxResults` query parameter.
    fn max(&self) -> Result<Option<u32>, EksError> {
        q_u32(self.query, "maxResults")
    }

    /// The `nextToken` query parameter.
    fn token(&self) -> Option<&str> {
        q(self.query, "nextToken")
    }
}

/// Route one operation to its handler.
fn dispatch(
    region: &Region,
    route: Route,
    query: &[(String, String)],
    body: &[u8],
    issuer_base: &str,
) -> Result<Value, EksError> {
    let route_copy = route.clone();
    let cx = &Cx {
        region,
        route: &route_copy,
        query,
        body,
        issuer_base,
    };
    match route {
        Route::CreateCluster => create_cluster(cx),
        Route::ListClusters => list_clusters(cx),
        Route::DescribeCluster(name) => describe_cluster(cx, &name),
        Route::DeleteCluster(name) => delete_cluster(cx, &name),
        Route::UpdateClusterConfig(name) => update_cluster_config(cx, name),
        Route::ListUpdates(c) => list_updates(cx, &c),
        Route::DescribeUpdate(c, id) => describe_update(cx, &c, &id),
        Route::CreateNodegroup(c) => create_nodegroup(cx, c),
        Route::ListNodegroups(c) => list_nodegroups(cx, &c),
        Route::DescribeNodegroup(c, n) => describe_nodegroup(cx, &c, &n),
        Route::DeleteNodegroup(c, n) => delete_nodegroup(cx, &c, &n),
        Route::UpdateNodegroupConfig(c, n) => update_nodegroup_config(cx, c, n),
        Route::CreateAddon(c) => create_addon(cx, c),
        Route::ListAddons(c) => list_addons(cx, &c),
        Route::DescribeAddon(c, a) => describe_addon(cx, &c, &a),
        Route::UpdateAddon(c, a) => update_addon(cx, c, a),
        Route::DeleteAddon(c, a) => delete_addon(cx, &c, &a),
        Route::DescribeAddonVersions => describe_addon_versions(cx),
        Route::CreateFargateProfile(c) => create_fargate_profile(cx, c),
        Route::ListFargateProfiles(c) => list_fargate_profiles(cx, &c),
        Route::DescribeFargateProfile(c, p) => describe_fargate_profile(cx, &c, &p),
        Route::DeleteFargateProfile(c, p) => delete_fargate_profile(cx, &c, &p),
        Route::TagResource(arn) => tag_resource(cx, &arn),
        Route::UntagResource(arn) => untag_resource(cx, &arn),
        Route::ListTagsForResource(arn) => list_tags_for_resource(cx, &arn),
    }
}

/// CreateCluster: decode the body and create the cluster (answered as `CREATING`).
fn create_cluster(cx: &Cx<'_>) -> Result<Value, EksError> {
    let region = cx.region;
    let v = parse_body(cx.body)?;
    let req = decode::<CreateClusterBody>(&v)?.into_domain()?;
    let c = region.write(|s, env| s.create_cluster(env, req.clone()))?;
    Ok(
        json!({"cluster": render::cluster(&c, Status::Creating, &health(region, &c), &cx.issuer(&c))}),
    )
}

/// ListClusters: one page of cluster names.
fn list_clusters(cx: &Cx<'_>) -> Result<Value, EksError> {
    let (names, next) = cx.region.read().list_clusters(cx.max()?, cx.token())?;
    Ok(page("clusters", names, next))
}

/// DescribeCluster: the cluster with its health (answered as `ACTIVE`).
fn describe_cluster(cx: &Cx<'_>, name: &str) -> Result<Value, EksError> {
    let region = cx.region;
    let c = region.read().describe_cluster(name)?;
    Ok(json!({"cluster": render::cluster(&c, Status::Active, &health(region, &c), &cx.issuer(&c))}))
}

/// DeleteCluster: remove the cluster (answered as `DELETING`).
fn delete_cluster(cx: &Cx<'_>, name: &str) -> Result<Value, EksError> {
    let c = cx.region.write(|s, _| s.delete_cluster(name))?;
    Ok(json!({"cluster": render::cluster(&c, Status::Deleting, &[], &cx.issuer(&c))}))
}

/// UpdateClusterConfig: an idempotent cluster update.
fn update_cluster_config(cx: &Cx<'_>, name: String) -> Result<Value, EksError> {
    let v = parse_body(cx.body)?;
    let req = decode::<UpdateClusterConfigBody>(&v)?.into_domain(name)?;
    let fp = fingerprint(cx.route, &v);
    let cluster = req.name.clone();
    idempotent_update(
        cx.region,
        "UpdateClusterConfig",
        &cluster,
        &v,
        &fp,
        |s, env| s.update_cluster_config(env, req.clone()),
    )
}

/// ListUpdates: one page of a cluster's (or its node group's or add-on's) update ids.
fn list_updates(cx: &Cx<'_>, c: &str) -> Result<Value, EksError> {
    let query = cx.query;
    let (ids, next) = cx.region.read().list_updates(
        c,
        q(query, "nodegroupName"),
        q(query, "addonName"),
        cx.max()?,
        cx.token(),
    )?;
    Ok(page("updateIds", ids, next))
}

/// DescribeUpdate: one update, with its errors.
fn describe_update(cx: &Cx<'_>, c: &str, id: &str) -> Result<Value, EksError> {
    let query = cx.query;
    let u = cx.region.read().describe_update(
        c,
        id,
        q(query, "nodegroupName"),
        q(query, "addonName"),
    )?;
    Ok(json!({"update": render::update(&u, false)}))
}

/// CreateNodegroup: an idempotent node group creation (answered as `CREATING`).
fn create_nodegroup(cx: &Cx<'_>, c: String) -> Result<Value, EksError> {
    let v = parse_body(cx.body)?;
    let fp = fingerprint(cx.route, &v);
    let req = decode::<CreateNodegroupBody>(&v)?.into_domain(c.clone())?;
    let g = cx.region.write(|s, env| {
        s.idempotent(
            env,
            call("CreateNodegroup", &c, &v, &fp)?,
            |s, k| s.nodegroups.get(k).cloned(),
            |s, env| s.create_nodegroup(env, req.clone()),
            |g| child_key(&g.cluster, &g.name),
        )
    })?;
    Ok(json!({"nodegroup": render::nodegroup(&g, Status::Creating)}))
}

/// ListNodegroups: one page of a cluster's node group names.
fn list_nodegroups(cx: &Cx<'_>, c: &str) -> Result<Value, EksError> {
    let (names, next) = cx.region.read().list_nodegroups(c, cx.max()?, cx.token())?;
    Ok(page("nodegroups", names, next))
}

/// DescribeNodegroup: one node group (answered as `ACTIVE`).
fn describe_nodegroup(cx: &Cx<'_>, c: &str, n: &str) -> Result<Value, EksError> {
    let g = cx.region.read().describe_nodegroup(c, n)?;
    Ok(json!({"nodegroup": render::nodegroup(&g, Status::Active)}))
}

/// DeleteNodegroup: remove a node group (answered as `DELETING`).
fn delete_nodegroup(cx: &Cx<'_>, c: &str, n: &str) -> Result<Value, EksError> {
    let g = cx.region.write(|s, _| s.delete_nodegroup(c, n))?;
    Ok(json!({"nodegroup": render::nodegroup(&g, Status::Deleting)}))
}

/// UpdateNodegroupConfig: an idempotent node group update.
fn update_nodegroup_config(cx: &Cx<'_>, c: String, n: String) -> Result<Value, EksError> {
    let v = parse_body(cx.body)?;
    let fp = fingerprint(cx.route, &v);
    let req = decode::<UpdateNodegroupConfigBody>(&v)?.into_domain(c.clone(), n)?;
    idempotent_update(cx.region, "UpdateNodegroupConfig", &c, &v, &fp, |s, env| {
        s.update_nodegroup_config(env, req.clone())
    })
}

/// CreateAddon: an idempotent add-on creation (answered as `CREATING`).
fn create_addon(cx: &Cx<'_>, c: String) -> Result<Value, EksError> {
    let v = parse_body(cx.body)?;
    let fp = fingerprint(cx.route, &v);
    let req = decode::<AddonBody>(&v)?.into_domain(c.clone(), None)?;
    let a = cx.region.write(|s, env| {
        s.idempotent(
            env,
            call("CreateAddon", &c, &v, &fp)?,
            |s, k| s.addons.get(k).cloned(),
            |s, env| s.create_addon(env, req.clone()),
            |a| child_key(&a.cluster, &a.name),
        )
    })?;
    Ok(json!({"addon": render::addon(&a, Status::Creating)}))
}

/// ListAddons: one page of a cluster's add-on names.
fn list_addons(cx: &Cx<'_>, c: &str) -> Result<Value, EksError> {
    let (names, next) = cx.region.read().list_addons(c, cx.max()?, cx.token())?;
    Ok(page("addons", names, next))
}

/// DescribeAddon: one add-on (answered as `ACTIVE`).
fn describe_addon(cx: &Cx<'_>, c: &str, a: &str) -> Result<Value, EksError> {
    let a = cx.region.read().describe_addon(c, a)?;
    Ok(json!({"addon": render::addon(&a, Status::Active)}))
}

/// UpdateAddon: an idempotent add-on update.
fn update_addon(cx: &Cx<'_>, c: String, a: String) -> Result<Value, EksError> {
    let v = parse_body(cx.body)?;
    let fp = fingerprint(cx.route, &v);
    let req = decode::<AddonBody>(&v)?.into_domain(c.clone(), Some(a))?;
    idempotent_update(cx.region, "UpdateAddon", &c, &v, &fp, |s, env| {
        s.update_addon(env, req.clone())
    })
}

/// DeleteAddon: remove an add-on (answered as `DELETING`).
fn delete_addon(cx: &Cx<'_>, c: &str, a: &str) -> Result<Value, EksError> {
    let a = cx.region.write(|s, _| s.delete_addon(c, a))?;
    Ok(json!({"addon": render::addon(&a, Status::Deleting)}))
}

/// DescribeAddonVersions: one page of the catalog's add-ons, filtered by name and Kubernetes
/// version.
fn describe_addon_versions(cx: &Cx<'_>) -> Result<Value, EksError> {
    let query = cx.query;
    let k8s = q(query, "kubernetesVersion");
    if let Some(k) = k8s.filter(|k| !catalog::KUBERNETES_VERSIONS.contains(k)) {
        return Err(EksError::invalid(
            "kubernetesVersion",
            k,
            format!(
                "Supported versions: {}.",
                catalog::KUBERNETES_VERSIONS.join(", ")
            ),
        ));
    }
    let all: Vec<_> = catalog::addons()
        .into_iter()
        .filter(|a| q(query, "addonName").is_none_or(|n| n == a.name))
        .collect();
    let mut names: Vec<String> = all.iter().map(|a| a.name.to_string()).collect();
    names.sort();
    let (names, next) = paginate("DescribeAddonVersions", names, cx.max()?, cx.token(), 100)?;
    let addons: Vec<Value> = all
        .iter()
        .filter(|a| names.iter().any(|n| n == a.name))
        .map(|a| render::addon_info(a, k8s))
        .collect();
    let mut v = json!({"addons": addons});
    if let Some(t) = next {
        v["nextToken"] = json!(t);
    }
    Ok(v)
}

/// CreateFargateProfile: an idempotent Fargate profile creation (answered as `CREATING`).
fn create_fargate_profile(cx: &Cx<'_>, c: String) -> Result<Value, EksError> {
    let v = parse_body(cx.body)?;
    let fp = fingerprint(cx.route, &v);
    let req = decode::<CreateFargateProfileBody>(&v)?.into_domain(c.clone())?;
    let p = cx.region.write(|s, env| {
        s.idempotent(
            env,
            call("CreateFargateProfile", &c, &v, &fp)?,
            |s, k| s.fargate_profiles.get(k).cloned(),
            |s, env| s.create_fargate_profile(env, req.clone()),
            |p| child_key(&p.cluster, &p.name),
        )
    })?;
    Ok(json!({"fargateProfile": render::fargate_profile(&p, Status::Creating)}))
}

/// ListFargateProfiles: one page of a cluster's Fargate profile names.
fn list_fargate_profiles(cx: &Cx<'_>, c: &str) -> Result<Value, EksError> {
    let (names, next) = cx
        .region
        .read()
        .list_fargate_profiles(c, cx.max()?, cx.token())?;
    Ok(page("fargateProfileNames", names, next))
}

/// DescribeFargateProfile: one Fargate profile (answered as `ACTIVE`).
fn describe_fargate_profile(cx: &Cx<'_>, c: &str, p: &str) -> Result<Value, EksError> {
    let p = cx.region.read().describe_fargate_profile(c, p)?;
    Ok(json!({"fargateProfile": render::fargate_profile(&p, Status::Active)}))
}

/// DeleteFargateProfile: remove a Fargate profile (answered as `DELETING`).
fn delete_fargate_profile(cx: &Cx<'_>, c: &str, p: &str) -> Result<Value, EksError> {
    let p = cx.region.write(|s, _| s.delete_fargate_profile(c, p))?;
    Ok(json!({"fargateProfile": render::fargate_profile(&p, Status::Deleting)}))
}

/// TagResource: add tags to the resource at `arn`.
fn tag_resource(cx: &Cx<'_>, arn: &str) -> Result<Value, EksError> {
    // TagResource reports every bad input as BadRequestException (botocore's model).
    let v = parse_body(cx.body).map_err(|e| match e {
        EksError::InvalidParameter { .. } => EksError::BadRequest {
            message: e.to_string(),
        },
        other => other,
    })?;
    let Some(tags) = decode::<TagsBody>(&v)?.tags else {
        return Err(EksError::BadRequest {
            message: "The request must contain tags (a map of 1 to 50 keys).".into(),
        });
    };
    cx.region.write(|s, _| s.tag_resource(arn, tags.clone()))?;
    Ok(json!({}))
}

/// UntagResource: remove the `tagKeys` from the resource at `arn`.
fn untag_resource(cx: &Cx<'_>, arn: &str) -> Result<Value, EksError> {
    let keys: Vec<String> = cx
        .query
        .iter()
        .filter(|(k, _)| k == "tagKeys")
        .map(|(_, v)| v.clone())
        .collect();
    cx.region.write(|s, _| s.untag_resource(arn, &keys))?;
    Ok(json!({}))
}

/// ListTagsForResource: the tags of the resource at `arn`.
fn list_tags_for_resource(cx: &Cx<'_>, arn: &str) -> Result<Value, EksError> {
    let tags = cx.region.read().list_tags_for_resource(arn)?;
    Ok(json!({"tags": tags}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_decode_path_segments() {
        assert_eq!(
            Route::parse(&Method::GET, "/clusters/my-cluster").unwrap(),
            Route::DescribeCluster("my-cluster".into())
        );
        assert_eq!(
            Route::parse(&Method::POST, "/clusters/a/addons/vpc-cni/update").unwrap(),
            Route::UpdateAddon("a".into(), "vpc-cni".into())
        );
        assert_eq!(
            Route::parse(&Method::GET, "/clusters/a%2Db").unwrap(),
            Route::DescribeCluster("a-b".into())
        );
        assert!(Route::parse(&Method::PUT, "/clusters").is_err());
        assert!(Route::parse(&Method::GET, "/nope").is_err());
    }
}
