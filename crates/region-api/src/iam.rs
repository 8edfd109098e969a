//! IAM over the Query protocol (signing name `iam`, `Version=2010-05-08`): roles, inline and
//! managed policies (customer-managed and the AWS-managed ones the EKS guides attach), and
//! OpenID Connect providers. One action table ([`ACTIONS`]) serves the requests and names the
//! served actions in the `InvalidAction` message.

use std::sync::Arc;

use axum::response::Response;
use region::Region;
use region::iam::IamError;
use region::iam::model::Role;
use region::iam::policies::PolicyView;
use region::iam::profiles::ProfileView;
use region::iam::roles::CreateRole;

use crate::awsquery::{self, url_encode};
use crate::query::Params;
use crate::xml::{Xml, iso8601};
use crate::{App, Incoming};

/// The XML namespace of every IAM reply (API version 2010-05-08).
pub const XMLNS: &str = "https://iam.amazonaws.com/doc/2010-05-08/";

/// An action: its result XML (`None`: the reply has no `Result` element).
type Action = fn(&Region, &Params) -> Result<Option<String>, IamError>;

/// Every IAM action served, in the order the docs list them.
pub const ACTIONS: &[(&str, Action)] = &[
    ("CreateRole", create_role),
    ("GetRole", get_role),
    ("PutRolePolicy", put_role_policy),
    ("GetRolePolicy", get_role_policy),
    ("ListRolePolicies", list_role_policies),
    ("DeleteRolePolicy", delete_role_policy),
    ("CreatePolicy", create_policy),
    ("GetPolicy", get_policy),
    ("GetPolicyVersion", get_policy_version),
    ("AttachRolePolicy", attach_role_policy),
    ("DetachRolePolicy", detach_role_policy),
    ("ListAttachedRolePolicies", list_attached_role_policies),
    ("CreateOpenIDConnectProvider", create_oidc_provider),
    ("GetOpenIDConnectProvider", get_oidc_provider),
    ("ListOpenIDConnectProviders", list_oidc_providers),
    ("DeleteOpenIDConnectProvider", delete_oidc_provider),
    ("CreateInstanceProfile", create_instance_profile),
    ("AddRoleToInstanceProfile", add_role_to_instance_profile),
    (
        "RemoveRoleFromInstanceProfile",
        remove_role_from_instance_profile,
    ),
    ("GetInstanceProfile", get_instance_profile),
    ("ListInstanceProfiles", list_instance_profiles),
    (
        "ListInstanceProfilesForRole",
        list_instance_profiles_for_role,
    ),
    ("DeleteInstanceProfile", delete_instance_profile),
];

/// (HTTP status, Query error code) of a domain error: the one mapping for IAM and STS.
pub fn code(e: &IamError) -> (u16, &'static str) {
    match e {
        IamError::Validation { .. } => (400, "ValidationError"),
        IamError::InvalidInput { .. } => (400, "InvalidInput"),
        IamError::NoSuchEntity { .. } => (404, "NoSuchEntity"),
        IamError::AlreadyExists { .. } => (409, "EntityAlreadyExists"),
        IamError::MalformedPolicy { .. } => (400, "MalformedPolicyDocument"),
        IamError::LimitExceeded { .. } => (409, "LimitExceeded"),
        IamError::DeleteConflict { .. } => (409, "DeleteConflict"),
        IamError::InvalidIdentityToken { .. } => (400, "InvalidIdentityToken"),
        IamError::ExpiredToken { .. } => (400, "ExpiredTokenException"),
        IamError::AccessDenied { .. } => (403, "AccessDenied"),
        IamError::Store(
            region::store::StoreError::Unavailable(_) | region::store::StoreError::Conflict { .. },
        ) => (503, "ServiceUnavailable"),
        IamError::Store(_) => (500, "ServiceFailure"),
    }
}

/// The message a client sees (store failures stay in the log).
pub fn message(e: &IamError) -> String {
    match e {
        IamError::Store(_) => "An internal error occurred; please retry.".into(),
        other => other.to_string(),
    }
}

/// The shared bounds of Query input (no control characters, names and documents bounded), as
/// an IAM error.
pub fn check_limits(p: &Params) -> Result<(), IamError> {
    crate::eks::limits::check_iam(p).map_err(|e| match e {
        region::eks::EksError::InvalidParameter { ref member, .. }
            if member == "PolicyDocument" =>
        {
            IamError::MalformedPolicy {
                message: e.to_string(),
            }
        }
        other => IamError::validation(other.to_string()),
    })
}

/// Serve one IAM Query request (already routed here by its credential scope).
pub async fn handle(app: Arc<App>, req: Incoming) -> Response {
    let request_id = req.request_id.clone();
    let caller = match app.authenticate("iam", &req) {
        Ok(c) => c,
        Err(e) => return awsquery::auth_error(XMLNS, &e, &request_id),
    };
    let params = Params::from_request(&req.method, &req.query, &req.body);
    if let Err(e) = check_limits(&params) {
        let (status, c) = code(&e);
        return awsquery::error(XMLNS, status, c, &message(&e), &request_id);
    }
    if let Some(action) = params
        .get("Action")
        .filter(|a| ACTIONS.iter().any(|(n, _)| n == a))
    {
        let account = app.region.config().account_id.clone();
        let resources = crate::authz::iam(&account, &params, |name| {
            app.region.read().roles.get(name).map(|r| r.arn.clone())
        });
        if let Err(d) = app.authorize(&caller, &format!("iam:{action}"), &resources) {
            return awsquery::error(XMLNS, 403, "AccessDenied", &d.message(), &request_id);
        }
    }
    let app2 = app.clone();
    let rid = request_id.clone();
    match tokio::task::spawn_blocking(move || run(&app2.region, &params, &rid)).await {
        Ok(r) => r,
        Err(_) => awsquery::error(
            XMLNS,
            500,
            "ServiceFailure",
            "An internal error occurred; please retry.",
            &request_id,
        ),
    }
}

fn run(region: &Region, p: &Params, request_id: &str) -> Response {
    let action = p.get("Action").unwrap_or_default();
    let Some((name, f)) = ACTIONS.iter().find(|(n, _)| *n == action) else {
        let served: Vec<&str> = ACTIONS.iter().map(|(n, _)| *n).collect();
        return awsquery::error(
            XMLNS,
            400,
            "InvalidAction",
            &format!(
                "The action {} is not valid for this endpoint; IAM here serves {}.",
                action.chars().take(100).collect::<String>(),
                served.join(", ")
            ),
            request_id,
        );
    };
    match f(region, p) {
        Ok(result) => awsquery::ok(XMLNS, name, result, request_id),
        Err(e) => {
            let (status, c) = code(&e);
            if status >= 500 {
                tracing::error!(error = %e, request_id, "IAM request failed inside the region");
            }
            awsquery::error(XMLNS, status, c, &message(&e), request_id)
        }
    }
}

/// The non-empty parameter `name` (IAM and STS), else `MissingParameter`.
pub(crate) fn required(p: &Params, name: &str) -> Result<String, IamError> {
    p.get(name)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| IamError::missing(name))
}

/// The optional parameter `name` as whole seconds (IAM and STS); anything else is a
/// `ValidationError` that says what to give: `give` (e.g. "give 3600 to 43200 seconds").
pub(crate) fn seconds(p: &Params, name: &str, give: &str) -> Result<Option<u32>, IamError> {
    p.get(name)
        .map(|v| {
            v.parse::<u32>()
                .map_err(|_| IamError::validation(format!("Invalid {name} {v}: {give}.")))
        })
        .transpose()
}

fn role_xml(x: &mut Xml, r: &Role) {
    x.open("Role");
    role_members(x, r);
    x.close("Role");
}

/// The members of a `Role` structure (inside `<Role>` or a list's `<member>`).
fn role_members(x: &mut Xml, r: &Role) {
    // Rows stored before roles had ids get a stable one derived from the ARN.
    let id = if r.role_id.is_empty() {
        let h = region::eks::fnv64(&[r.arn.as_bytes()]);
        format!("AROA{h:017X}")
    } else {
        r.role_id.clone()
    };
    x.leaf("Path", &r.path)
        .leaf("RoleName", &r.name)
        .leaf("RoleId", id)
        .leaf("Arn", &r.arn)
        .leaf("CreateDate", iso8601(r.created_at));
    if !r.assume_role_policy.is_empty() {
        x.leaf(
            "AssumeRolePolicyDocument",
            url_encode(&r.assume_role_policy),
        );
    }
    x.opt("Description", r.description.as_ref())
        .leaf("MaxSessionDuration", r.max_session_duration);
}

fn create_role(region: &Region, p: &Params) -> Result<Option<String>, IamError> {
    let req = CreateRole {
        name: required(p, "RoleName")?,
        path: p.get("Path"),
        assume_role_policy: required(p, "AssumeRolePolicyDocument")?,
        description: p.get("Description"),
        max_session_duration: seconds(p, "MaxSessionDuration", "give 3600 to 43200 seconds")?,
    };
    let r = region.write(|s, env| s.create_role(env, req.clone()))?;
    let mut x = Xml::new();
    role_xml(&mut x, &r);
    Ok(Some(x.finish()))
}

fn get_role(region: &Region, p: &Params) -> Result<Option<String>, IamError> {
    let name = required(p, "RoleName")?;
    let r = region.read().role(&name)?.clone();
    let mut x = Xml::new();
    role_xml(&mut x, &r);
    Ok(Some(x.finish()))
}

fn put_role_policy(region: &Region, p: &Params) -> Result<Option<String>, IamError> {
    let name = required(p, "RoleName")?;
    let policy = required(p, "PolicyName")?;
    let doc = required(p, "PolicyDocument")?;
    region.write(|s, _| s.put_role_policy(&name, &policy, &doc))?;
    Ok(None)
}

fn get_role_policy(region: &Region, p: &Params) -> Result<Option<String>, IamError> {
    let name = required(p, "RoleName")?;
    let policy = required(p, "PolicyName")?;
    let doc = region.read().get_role_policy(&name, &policy)?;
    let mut x = Xml::new();
    x.leaf("RoleName", &name)
        .leaf("PolicyName", &policy)
        .leaf("PolicyDocument", url_encode(&doc));
    Ok(Some(x.finish()))
}

fn list_role_policies(region: &Region, p: &Params) -> Result<Option<String>, IamError> {
    let name = required(p, "RoleName")?;
    let names = region.read().list_role_policies(&name)?;
    let mut x = Xml::new();
    x.open("PolicyNames");
    for n in &names {
        x.leaf("member", n);
    }
    x.close("PolicyNames").leaf("IsTruncated", false);
    Ok(Some(x.finish()))
}

fn delete_role_policy(region: &Region, p: &Params) -> Result<Option<String>, IamError> {
    let name = required(p, "RoleName")?;
    let policy = required(p, "PolicyName")?;
    region.write(|s, _| s.delete_role_policy(&name, &policy))?;
    Ok(None)
}

fn policy_xml(x: &mut Xml, p: &PolicyView, with_description: bool) {
    x.open("Policy")
        .leaf("PolicyName", &p.name)
        .leaf("PolicyId", &p.policy_id)
        .leaf("Arn", &p.arn)
        .leaf("Path", &p.path)
        .leaf("DefaultVersionId", &p.default_version)
        .leaf("AttachmentCount", p.attachment_count)
        .leaf("PermissionsBoundaryUsageCount", 0)
        .leaf("IsAttachable", true);
    if with_description {
        x.opt("Description", p.description.as_ref());
    }
    x.leaf("CreateDate", iso8601(p.created_at))
        .leaf("UpdateDate", iso8601(p.created_at))
        .close("Policy");
}

fn create_policy(region: &Region, p: &Params) -> Result<Option<String>, IamError> {
    let name = required(p, "PolicyName")?;
    let doc = required(p, "PolicyDocument")?;
    let path = p.get("Path");
    let description = p.get("Description");
    let v = region
        .write(|s, env| s.create_policy(env, &name, path.as_deref(), &doc, description.clone()))?;
    let mut x = Xml::new();
    policy_xml(&mut x, &v, false);
    Ok(Some(x.finish()))
}

fn get_policy(region: &Region, p: &Params) -> Result<Option<String>, IamError> {
    let arn = required(p, "PolicyArn")?;
    let v = region.read().get_policy(&arn)?;
    let mut x = Xml::new();
    policy_xml(&mut x, &v, true);
    Ok(Some(x.finish()))
}

fn get_policy_version(region: &Region, p: &Params) -> Result<Option<String>, IamError> {
    let arn = required(p, "PolicyArn")?;
    let version = required(p, "VersionId")?;
    let v = region.read().get_policy_version(&arn, &version)?;
    let mut x = Xml::new();
    x.open("PolicyVersion")
        .leaf("Document", url_encode(&v.document))
        .leaf("VersionId", &v.default_version)
        .leaf("IsDefaultVersion", true)
        .leaf("CreateDate", iso8601(v.created_at))
        .close("PolicyVersion");
    Ok(Some(x.finish()))
}

fn attach_role_policy(region: &Region, p: &Params) -> Result<Option<String>, IamError> {
    let role = required(p, "RoleName")?;
    let arn = required(p, "PolicyArn")?;
    region.write(|s, _| s.attach_role_policy(&role, &arn))?;
    Ok(None)
}

fn detach_role_policy(region: &Region, p: &Params) -> Result<Option<String>, IamError> {
    let role = required(p, "RoleName")?;
    let arn = required(p, "PolicyArn")?;
    region.write(|s, _| s.detach_role_policy(&role, &arn))?;
    Ok(None)
}

fn list_attached_role_policies(region: &Region, p: &Params) -> Result<Option<String>, IamError> {
    let role = required(p, "RoleName")?;
    let list = region.read().list_attached_role_policies(&role)?;
    let mut x = Xml::new();
    x.open("AttachedPolicies");
    for (name, arn) in &list {
        x.open("member")
            .leaf("PolicyName", name)
            .leaf("PolicyArn", arn)
            .close("member");
    }
    x.close("AttachedPolicies").leaf("IsTruncated", false);
    Ok(Some(x.finish()))
}

fn create_oidc_provider(region: &Region, p: &Params) -> Result<Option<String>, IamError> {
    let url = required(p, "Url")?;
    let clients = p.list("ClientIDList.member");
    let thumbs = p.list("ThumbprintList.member");
    let v = region
        .write(|s, env| s.create_oidc_provider(env, &url, clients.clone(), thumbs.clone()))?;
    let mut x = Xml::new();
    x.leaf("OpenIDConnectProviderArn", &v.arn);
    Ok(Some(x.finish()))
}

fn get_oidc_provider(region: &Region, p: &Params) -> Result<Option<String>, IamError> {
    let arn = required(p, "OpenIDConnectProviderArn")?;
    let v = region.read().oidc_provider(&arn)?.clone();
    let mut x = Xml::new();
    x.leaf("Url", region::iam::sts::host_path(&v.url));
    x.open("ClientIDList");
    for c in &v.client_ids {
        x.leaf("member", c);
    }
    x.close("ClientIDList").open("ThumbprintList");
    for t in &v.thumbprints {
        x.leaf("member", t);
    }
    x.close("ThumbprintList")
        .leaf("CreateDate", iso8601(v.created_at));
    Ok(Some(x.finish()))
}

fn list_oidc_providers(region: &Region, _p: &Params) -> Result<Option<String>, IamError> {
    let s = region.read();
    let mut x = Xml::new();
    x.open("OpenIDConnectProviderList");
    for v in s.oidc_providers.values() {
        x.open("member").leaf("Arn", &v.arn).close("member");
    }
    x.close("OpenIDConnectProviderList");
    Ok(Some(x.finish()))
}

fn delete_oidc_provider(region: &Region, p: &Params) -> Result<Option<String>, IamError> {
    let arn = required(p, "OpenIDConnectProviderArn")?;
    region.write(|s, _| s.delete_oidc_provider(&arn))?;
    Ok(None)
}

/// An `InstanceProfile` structure named `tag` (`InstanceProfile` or a list's `member`).
fn profile_xml(x: &mut Xml, tag: &str, v: &ProfileView) {
    let p = &v.profile;
    x.open(tag)
        .leaf("Path", &p.path)
        .leaf("InstanceProfileName", &p.name)
        .leaf("InstanceProfileId", &p.instance_profile_id)
        .leaf("Arn", &p.arn)
        .leaf("CreateDate", iso8601(p.created_at))
        .open("Roles");
    for r in &v.roles {
        x.open("member");
        role_members(x, r);
        x.close("member");
    }
    x.close("Roles").close(tag);
}

fn create_instance_profile(region: &Region, p: &Params) -> Result<Option<String>, IamError> {
    let name = required(p, "InstanceProfileName")?;
    let path = p.get("Path");
    let v = region.write(|s, env| s.create_instance_profile(env, &name, path.as_deref()))?;
    let mut x = Xml::new();
    profile_xml(&mut x, "InstanceProfile", &v);
    Ok(Some(x.finish()))
}

fn add_role_to_instance_profile(region: &Region, p: &Params) -> Result<Option<String>, IamError> {
    let profile = required(p, "InstanceProfileName")?;
    let role = required(p, "RoleName")?;
    region.write(|s, _| s.add_role_to_instance_profile(&profile, &role))?;
    Ok(None)
}

fn remove_role_from_instance_profile(
    region: &Region,
    p: &Params,
) -> Result<Option<String>, IamError> {
    let profile = required(p, "InstanceProfileName")?;
    let role = required(p, "RoleName")?;
    region.write(|s, _| s.remove_role_from_instance_profile(&profile, &role))?;
    Ok(None)
}

fn get_instance_profile(region: &Region, p: &Params) -> Result<Option<String>, IamError> {
    let name = required(p, "InstanceProfileName")?;
    let v = region.read().get_instance_profile(&name)?;
    let mut x = Xml::new();
    profile_xml(&mut x, "InstanceProfile", &v);
    Ok(Some(x.finish()))
}

fn profiles_xml(list: &[ProfileView]) -> String {
    let mut x = Xml::new();
    x.open("InstanceProfiles");
    for v in list {
        profile_xml(&mut x, "member", v);
    }
    x.close("InstanceProfiles").leaf("IsTruncated", false);
    x.finish()
}

fn list_instance_profiles(region: &Region, p: &Params) -> Result<Option<String>, IamError> {
    let prefix = p.get("PathPrefix");
    let list = region.read().list_instance_profiles(prefix.as_deref());
    Ok(Some(profiles_xml(&list)))
}

fn list_instance_profiles_for_role(
    region: &Region,
    p: &Params,
) -> Result<Option<String>, IamError> {
    let role = required(p, "RoleName")?;
    let list = region.read().list_instance_profiles_for_role(&role)?;
    Ok(Some(profiles_xml(&list)))
}

fn delete_instance_profile(region: &Region, p: &Params) -> Result<Option<String>, IamError> {
    let name = required(p, "InstanceProfileName")?;
    region.write(|s, _| s.delete_instance_profile(&name))?;
    Ok(None)
}
