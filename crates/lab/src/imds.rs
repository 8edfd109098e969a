//! Instance metadata for the lab's nodes, and the credentials their agents run on.
//!
//! - **IMDS**: `sixfold lab-imds` runs in each node namespace, puts `169.254.169.254/32` on the
//!   node's `lo` and serves IMDSv2 on port 80 from the region's data (DescribeInstances,
//!   DescribeNetworkInterfaces, DescribeSubnets, DescribeVpcs through the node's forwarder):
//!   `PUT /latest/api/token` (TTL 1–21600 s) then `GET /latest/meta-data/...` with the token;
//!   no token, an expired one or a proxied request (`X-Forwarded-For`) is refused as on EC2.
//!   `iam/security-credentials/` comes from the region's instance profile endpoint
//!   (`/sixfold/v1/instance-credentials/{id}`). Nothing listens on the IPv6 endpoint
//!   (`[fd00:ec2::254]`): EKS IPv6 clusters do not support it.
//! - **IRSA**: the lab registers the cluster's OIDC issuer with IAM, creates the `aws-node` role
//!   trusting `system:serviceaccount:kube-system:aws-node` with the IPv6 CNI policy, and mints
//!   the projected service-account token agents read through `AWS_WEB_IDENTITY_TOKEN_FILE`.
//!   With `--cni-credentials node-role` the agents use the node role from IMDS instead.

use std::collections::{BTreeMap, HashMap};
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dataplane::netns::NetNs;
use ec2_client::{Ec2Client, FeedClient, Filter};
use serde_json::json;

use crate::eks::{Eks, IPV6_POLICY};
use crate::error::{LabError, Result};
use crate::procs;
use crate::state::{NodeInfo, Process};

/// The IMDS address (IPv4 link-local; the only endpoint EKS IPv6 clusters support).
pub const IMDS_ADDR: Ipv4Addr = Ipv4Addr::new(169, 254, 169, 254);
/// The service account the CNI runs as.
pub const CNI_SERVICE_ACCOUNT: &str = "system:serviceaccount:kube-system:aws-node";
/// Longest request head read.
const MAX_HEAD: usize = 8 * 1024;
/// Connections served at once.
const MAX_CONNECTIONS: usize = 64;
/// Longest token lifetime IMDS grants (6 hours).
const MAX_TTL: u64 = 21_600;
/// Tokens remembered at once (the oldest expired ones are dropped first).
const MAX_TOKENS: usize = 1024;
/// How long the region's answers are reused.
const CACHE_FOR: Duration = Duration::from_secs(2);

/// What an IMDS serves: the metadata tree (paths under `meta-data/`) and the instance
/// profile's credentials (`(role name, IMDS JSON)`, `None` without a profile).
pub trait MetadataSource: Send + Sync {
    /// Every leaf of the tree.
    fn table(&self) -> std::result::Result<BTreeMap<String, String>, String>;
    /// The instance profile role and its credentials document.
    fn credentials(&self) -> std::result::Result<Option<(String, String)>, String>;
}

/// An IMDSv2 server over `source`; serves `listener` until the process ends.
pub fn serve(listener: TcpListener, source: Arc<dyn MetadataSource>) {
    let tokens: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let active = Arc::new(AtomicUsize::new(0));
    for conn in listener.incoming() {
        let Ok(stream) = conn else { continue };
        if active.load(Ordering::SeqCst) >= MAX_CONNECTIONS {
            let _ = respond(&stream, 503, "too many connections");
            continue;
        }
        active.fetch_add(1, Ordering::SeqCst);
        let (source, tokens, active) = (source.clone(), tokens.clone(), active.clone());
        std::thread::spawn(move || {
            let _ = answer(&stream, source.as_ref(), &tokens);
            active.fetch_sub(1, Ordering::SeqCst);
        });
    }
}

fn respond(mut stream: &TcpStream, status: u16, body: &str) -> std::io::Result<()> {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        _ => "Service Unavailable",
    };
    write!(
        stream,
        "HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    stream.flush()
}

fn answer(
    stream: &TcpStream,
    source: &dyn MetadataSource,
    tokens: &Mutex<HashMap<String, Instant>>,
) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(2)))?;
    stream.set_write_timeout(Some(Duration::from_secs(2)))?;
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    let mut reader = stream;
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        if buf.len() > MAX_HEAD {
            return respond(stream, 400, "request head too large");
        }
        let n = reader.read(&mut chunk)?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let head = String::from_utf8_lossy(&buf);
    let mut lines = head.split("\r\n");
    let mut first = lines.next().unwrap_or("").split_whitespace();
    let (method, path) = (first.next().unwrap_or(""), first.next().unwrap_or(""));
    let headers: HashMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    if headers.contains_key("x-forwarded-for") {
        return respond(stream, 403, "IMDS does not answer proxied requests");
    }
    let (status, body) = route(method, path, &headers, source, tokens);
    respond(stream, status, &body)
}

/// The answer to one request (pure but for `source` and the token table).
fn route(
    method: &str,
    path: &str,
    headers: &HashMap<String, String>,
    source: &dyn MetadataSource,
    tokens: &Mutex<HashMap<String, Instant>>,
) -> (u16, String) {
    let now = Instant::now();
    if path == "/latest/api/token" {
        if method != "PUT" {
            return (405, "PUT /latest/api/token".into());
        }
        let ttl = headers
            .get("x-aws-ec2-metadata-token-ttl-seconds")
            .and_then(|v| v.parse::<u64>().ok())
            .filter(|t| (1..=MAX_TTL).contains(t));
        let Some(ttl) = ttl else {
            return (
                400,
                format!("X-aws-ec2-metadata-token-ttl-seconds must be 1 to {MAX_TTL}"),
            );
        };
        let token = new_token();
        let mut t = tokens.lock().unwrap_or_else(|p| p.into_inner());
        t.retain(|_, until| *until > now);
        if t.len() >= MAX_TOKENS {
            return (503, "too many live tokens; retry later".into());
        }
        t.insert(token.clone(), now + Duration::from_secs(ttl));
        return (200, token);
    }
    let Some(rest) = path.strip_prefix("/latest/meta-data") else {
        return (404, "Not Found".into());
    };
    if method != "GET" {
        return (405, "GET only".into());
    }
    let valid = headers.get("x-aws-ec2-metadata-token").is_some_and(|tok| {
        tokens
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(tok)
            .is_some_and(|until| *until > now)
    });
    if !valid {
        // IMDSv1 is off, as on an instance with http-tokens=required.
        return (401, "Unauthorized".into());
    }
    let rest = rest.trim_start_matches('/');
    if let Some(role_path) = rest.strip_prefix("iam/security-credentials/") {
        return match source.credentials() {
            Err(e) => (503, e),
            Ok(None) => (404, "Not Found".into()),
            Ok(Some((role, _))) if role_path.is_empty() => (200, role),
            Ok(Some((role, json))) if role_path == role => (200, json),
            Ok(Some(_)) => (404, "Not Found".into()),
        };
    }
    let table = match source.table() {
        Ok(t) => t,
        Err(e) => return (503, e),
    };
    if let Some(v) = table.get(rest) {
        return (200, v.clone());
    }
    // A directory: its children, one a line, subdirectories with a trailing `/`.
    let dir = if rest.is_empty() || rest.ends_with('/') {
        rest.to_owned()
    } else {
        format!("{rest}/")
    };
    let mut children: Vec<String> = table
        .keys()
        .chain(std::iter::once(&"iam/security-credentials/".to_owned()))
        .filter_map(|k| k.strip_prefix(&dir))
        .map(|r| match r.split_once('/') {
            Some((d, _)) => format!("{d}/"),
            None => r.to_owned(),
        })
        .filter(|c| !c.is_empty())
        .collect();
    children.sort();
    children.dedup();
    if children.is_empty() {
        (404, "Not Found".into())
    } else {
        (200, children.join("\n"))
    }
}

fn new_token() -> String {
    let mut bytes = [0u8; 32];
    // /dev/urandom does not fail on Linux; a failure leaves zeros, and the time below still
    // makes the token unique for this server.
    if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
        let _ = f.read_exact(&mut bytes);
    }
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{}{nanos:x}", hex(&bytes))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The metadata of one instance, read from the region.
pub struct RegionSource {
    instance_id: String,
    region: String,
    ec2: Ec2Client,
    feed: FeedClient,
    cache: Mutex<Option<(Instant, BTreeMap<String, String>)>>,
}

impl RegionSource {
    /// The source of `instance_id`, asking the region at `endpoint` with `credentials`.
    pub fn new(
        instance_id: &str,
        region: &str,
        endpoint: &str,
        credentials: sigv4::Credentials,
    ) -> Result<Self> {
        let ec2 = Ec2Client::new(region, Some(endpoint), credentials.clone()).map_err(|e| {
            LabError::Ec2 {
                action: "connect".into(),
                source: Box::new(e),
            }
        })?;
        let feed =
            FeedClient::new(region, endpoint, credentials).map_err(|e| LabError::Command {
                what: "connecting to the region".into(),
                detail: e.to_string(),
            })?;
        Ok(RegionSource {
            instance_id: instance_id.to_owned(),
            region: region.to_owned(),
            ec2,
            feed,
            cache: Mutex::new(None),
        })
    }

    fn build(&self) -> std::result::Result<BTreeMap<String, String>, String> {
        let id = self.instance_id.as_str();
        let inst = self
            .ec2
            .describe_instances(&[id])
            .map_err(|e| e.to_string())?
            .into_iter()
            .find(|i| i.instance_id == id)
            .ok_or_else(|| format!("the region has no instance {id}"))?;
        let eni = self
            .ec2
            .describe_network_interfaces(&[Filter::attachment_instance_id(id)])
            .map_err(|e| e.to_string())?
            .into_iter()
            .find(|e| e.is_primary())
            .ok_or_else(|| format!("instance {id} has no primary network interface"))?;
        let subnet = eni.subnet_id.clone().unwrap_or_default();
        let vpc = eni.vpc_id.clone().unwrap_or_default();
        let s = self
            .ec2
            .call(
                "DescribeSubnets",
                &[("SubnetId.1".to_owned(), subnet.clone())],
            )
            .map_err(|e| e.to_string())?;
        let s = s.items("subnetSet").next().cloned().unwrap_or_default();
        let v = self
            .ec2
            .call("DescribeVpcs", &[("VpcId.1".to_owned(), vpc.clone())])
            .map_err(|e| e.to_string())?;
        let v = v.items("vpcSet").next().cloned().unwrap_or_default();
        let v6 = |e: &ec2_client::xml::Element| -> String {
            e.items("ipv6CidrBlockAssociationSet")
                .filter_map(|a| a.child_text("ipv6CidrBlock"))
                .collect::<Vec<_>>()
                .join("\n")
        };
        let mac = eni
            .mac_address
            .clone()
            .ok_or_else(|| format!("interface {} has no MAC", eni.network_interface_id))?;
        let ipv4 = eni.private_ipv4.map(|a| a.to_string()).unwrap_or_default();
        let zone = s.child_text("availabilityZone").unwrap_or_default();
        let b = format!("network/interfaces/macs/{mac}");
        let join = |items: Vec<String>| items.join("\n");
        let mut t = BTreeMap::new();
        let mut put = |k: String, v: String| {
            if !v.is_empty() {
                t.insert(k, v);
            }
        };
        put("instance-id".into(), id.to_owned());
        put(
            "instance-type".into(),
            inst.instance_type.clone().unwrap_or_default(),
        );
        put("local-ipv4".into(), ipv4.clone());
        put(
            "local-hostname".into(),
            format!("ip-{}.ec2.internal", ipv4.replace('.', "-")),
        );
        put("mac".into(), mac.clone());
        put("placement/region".into(), self.region.clone());
        put("placement/availability-zone".into(), zone.to_owned());
        put(format!("{b}/mac"), mac.clone());
        put(format!("{b}/device-number"), "0".into());
        put(
            format!("{b}/interface-id"),
            eni.network_interface_id.clone(),
        );
        put(format!("{b}/subnet-id"), subnet);
        put(format!("{b}/vpc-id"), vpc);
        put(format!("{b}/local-ipv4s"), ipv4);
        put(
            format!("{b}/ipv6s"),
            join(eni.ipv6_addresses.iter().map(|a| a.to_string()).collect()),
        );
        put(
            format!("{b}/ipv6-prefix"),
            join(eni.ipv6_prefixes.iter().map(|p| p.to_string()).collect()),
        );
        put(
            format!("{b}/subnet-ipv4-cidr-block"),
            s.child_text("cidrBlock").unwrap_or_default().to_owned(),
        );
        put(format!("{b}/subnet-ipv6-cidr-blocks"), v6(&s));
        let vpc4 = v.child_text("cidrBlock").unwrap_or_default().to_owned();
        put(format!("{b}/vpc-ipv4-cidr-block"), vpc4.clone());
        put(format!("{b}/vpc-ipv4-cidr-blocks"), vpc4);
        put(format!("{b}/vpc-ipv6-cidr-blocks"), v6(&v));
        Ok(t)
    }
}

impl MetadataSource for RegionSource {
    fn table(&self) -> std::result::Result<BTreeMap<String, String>, String> {
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((at, t)) = cache.as_ref()
            && at.elapsed() < CACHE_FOR
        {
            return Ok(t.clone());
        }
        let t = self.build()?;
        *cache = Some((Instant::now(), t.clone()));
        Ok(t)
    }

    fn credentials(&self) -> std::result::Result<Option<(String, String)>, String> {
        match self.feed.instance_credentials(&self.instance_id) {
            Ok(mut doc) => {
                let role = doc["RoleName"].as_str().unwrap_or_default().to_owned();
                if let Some(o) = doc.as_object_mut() {
                    o.remove("RoleName");
                }
                Ok(Some((role, doc.to_string())))
            }
            Err(ec2_client::FeedError::Api { status: 404, .. }) => Ok(None),
            Err(e) => Err(e.to_string()),
        }
    }
}

/// `sixfold lab-imds`: inside a node namespace, put [`IMDS_ADDR`] on `lo` and serve the
/// instance's metadata on port 80 until the process ends.
pub fn run_imds(instance_id: &str, region: &str, endpoint: &str, credentials: &Path) -> Result<()> {
    let creds = ec2_client::credentials::from_profile(credentials, crate::region::PROFILE)
        .map_err(|e| LabError::Command {
            what: "reading the region's credentials".into(),
            detail: e.to_string(),
        })?;
    let source = RegionSource::new(instance_id, region, endpoint, creds)?;
    let mut nl = dataplane::netlink::Netlink::open()
        .map_err(LabError::dp("netlink in the node namespace"))?;
    let lo = nl.link_get("lo").map_err(LabError::dp("the node's lo"))?;
    let opts = dataplane::netlink::AddrOpts {
        nodad: false,
        noprefixroute: true,
        scope: None,
    };
    match nl.addr_add(lo.index, IpAddr::V4(IMDS_ADDR), 32, opts) {
        Err(e) if !e.is_exists() => {
            return Err(LabError::Dataplane {
                what: format!("adding {IMDS_ADDR}/32 to lo"),
                source: e,
            });
        }
        _ => {}
    }
    let addr = SocketAddr::from((IMDS_ADDR, 80));
    let listener = TcpListener::bind(addr).map_err(LabError::io("IMDS bind", addr.to_string()))?;
    println!("imds listening on {addr} for {instance_id}");
    serve(listener, Arc::new(source));
    Ok(())
}

/// Start `sixfold lab-imds` for node `n` (in its namespace; the region at `endpoint`, the
/// node's forwarder) and wait until it listens.
pub(crate) fn start_imds(
    exe: &Path,
    lab: &str,
    n: &NodeInfo,
    endpoint: &str,
    credentials: &Path,
    log: &Path,
) -> Result<Process> {
    let argv = procs::argv([
        exe.display().to_string(),
        "lab-imds".into(),
        "--instance-id".into(),
        n.instance_id.clone(),
        "--endpoint".into(),
        endpoint.to_owned(),
        "--credentials".into(),
        credentials.display().to_string(),
        "--lab".into(),
        lab.to_owned(),
    ]);
    let handle = NetNs::by_name(&n.netns).map_err(LabError::dp(format!("opening {}", n.netns)))?;
    let p = procs::spawn(&format!("imds {}", n.name), Some(&handle), &argv, log)?;
    procs::wait_for(
        &format!("the IMDS of {}", n.name),
        Duration::from_secs(10),
        log,
        || {
            std::fs::read_to_string(log).is_ok_and(|t| t.contains("imds listening"))
                || !procs::alive(p.pid)
        },
    )?;
    Ok(p)
}

/// How the lab's agents get their AWS credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgentCredentials {
    /// IRSA: the role and the projected token file.
    Irsa {
        role_arn: String,
        token_file: PathBuf,
    },
    /// The node role, from IMDS.
    NodeRole,
    /// Profile `sixfold` of a credentials file (an adopted cluster: the lab's own credentials).
    File(PathBuf),
}

impl AgentCredentials {
    /// What lab `state` chose: IRSA when its cluster records a CNI role, the node role when
    /// it says so, else the lab's region credentials file.
    pub fn of(state: &crate::state::LabState) -> AgentCredentials {
        let cluster = state.cluster.as_ref();
        match cluster.and_then(|c| c.cni_role.clone()) {
            Some(role_arn) => AgentCredentials::Irsa {
                role_arn,
                token_file: irsa_token_file(&state.state_dir),
            },
            None if cluster.is_some_and(|c| c.cni_node_role) => AgentCredentials::NodeRole,
            None => AgentCredentials::File(
                state
                    .region
                    .as_ref()
                    .map(|r| r.credentials.clone())
                    .unwrap_or_default(),
            ),
        }
    }

    /// The variables the agent runs with (none for the node role: the chain ends at IMDS).
    pub fn env(&self) -> Vec<(String, String)> {
        match self {
            AgentCredentials::Irsa {
                role_arn,
                token_file,
            } => vec![
                ("AWS_ROLE_ARN".into(), role_arn.clone()),
                (
                    "AWS_WEB_IDENTITY_TOKEN_FILE".into(),
                    token_file.display().to_string(),
                ),
            ],
            AgentCredentials::NodeRole => Vec::new(),
            AgentCredentials::File(path) => vec![
                (
                    "AWS_SHARED_CREDENTIALS_FILE".into(),
                    path.display().to_string(),
                ),
                ("AWS_PROFILE".into(), crate::region::PROFILE.into()),
            ],
        }
    }
}

/// Where the lab keeps the projected `aws-node` token.
pub fn irsa_token_file(state_dir: &Path) -> PathBuf {
    state_dir.join("irsa").join("token")
}

/// The trust policy of a role for service account `sub` of the cluster whose issuer is
/// `provider` (the issuer URL without its scheme).
pub fn web_identity_trust(account: &str, provider: &str, sub: &str) -> String {
    json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"Federated": format!("arn:aws:iam::{account}:oidc-provider/{provider}")},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {
            format!("{provider}:sub"): sub,
            format!("{provider}:aud"): "sts.amazonaws.com"}}}]})
    .to_string()
}

/// IRSA for the CNI: the cluster's issuer registered with IAM (once), role `role` trusting
/// `kube-system:aws-node` (with the IPv6 CNI policy when `ipv6_policy`), and a token minted for
/// the service account into `token_file` (0600). Returns the role's ARN.
pub fn setup_irsa(
    eks: &Eks,
    cluster: &str,
    role: &str,
    ipv6_policy: bool,
    token_file: &Path,
) -> Result<String> {
    let c = eks.call("GET", &format!("/clusters/{cluster}"), None)?;
    let issuer = c["cluster"]["identity"]["oidc"]["issuer"]
        .as_str()
        .ok_or_else(|| LabError::Eks {
            op: format!("DescribeCluster {cluster}"),
            detail: format!("no identity.oidc.issuer in {}", c["cluster"]),
        })?
        .to_owned();
    let arn = c["cluster"]["arn"].as_str().unwrap_or_default();
    let account = arn.split(':').nth(4).unwrap_or("123456789012").to_owned();
    let provider = issuer
        .split_once("://")
        .map_or(issuer.as_str(), |(_, r)| r)
        .to_owned();
    eks.iam(
        "CreateOpenIDConnectProvider",
        &[
            ("Url", &issuer),
            ("ClientIDList.member.1", "sts.amazonaws.com"),
            (
                "ThumbprintList.member.1",
                "9e99a48a9960b14926bb7f3b02e22da2b0ab7280",
            ),
        ],
    )?;
    let trust = web_identity_trust(&account, &provider, CNI_SERVICE_ACCOUNT);
    eks.iam(
        "CreateRole",
        &[("RoleName", role), ("AssumeRolePolicyDocument", &trust)],
    )?;
    if ipv6_policy {
        eks.iam(
            "PutRolePolicy",
            &[
                ("RoleName", role),
                ("PolicyName", "sixfold-ipv6-cni"),
                ("PolicyDocument", IPV6_POLICY),
            ],
        )?;
    }
    mint_token(eks, cluster, token_file)?;
    Ok(format!("arn:aws:iam::{account}:role/{role}"))
}

/// Mint the `kube-system:aws-node` token of `cluster` (the longest lifetime, a day) into
/// `path` with mode 0600, written whole (temp file + rename).
pub fn mint_token(eks: &Eks, cluster: &str, path: &Path) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let v = eks.call(
        "POST",
        &format!("/sixfold/clusters/{cluster}/service-account-token"),
        Some(
            &json!({"namespace": "kube-system", "serviceAccount": "aws-node",
            "audience": "sts.amazonaws.com", "expirationSeconds": 86_400}),
        ),
    )?;
    let token = v["token"].as_str().ok_or_else(|| LabError::Eks {
        op: "minting the aws-node token".into(),
        detail: format!("no token in {v}"),
    })?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(LabError::io("creating the token dir", dir))?;
    }
    let tmp = path.with_extension("new");
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(LabError::io("writing the token", &tmp))?;
    f.write_all(token.as_bytes())
        .map_err(LabError::io("writing the token", &tmp))?;
    std::fs::rename(&tmp, path).map_err(LabError::io("writing the token", path))
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixed(BTreeMap<String, String>);

    impl MetadataSource for Fixed {
        fn table(&self) -> std::result::Result<BTreeMap<String, String>, String> {
            Ok(self.0.clone())
        }
        fn credentials(&self) -> std::result::Result<Option<(String, String)>, String> {
            Ok(Some((
                "node".into(),
                r#"{"Code":"Success","LastUpdated":"2026-11-30T20:00:00Z","Type":"AWS-HMAC","AccessKeyId":"ASIA1","SecretAccessKey":"s","Token":"t","Expiration":"2026-11-30T21:00:00Z"}"#.into(),
            )))
        }
    }

    fn table() -> BTreeMap<String, String> {
        let b = "network/interfaces/macs/02:00:0a:00:01:0a";
        [
            ("instance-id", "i-0lab".to_owned()),
            ("instance-type", "m5.large".to_owned()),
            ("local-ipv4", "10.0.1.10".to_owned()),
            ("mac", "02:00:0a:00:01:0a".to_owned()),
            ("placement/region", "us-east-1".to_owned()),
            (&format!("{b}/interface-id"), "eni-1".to_owned()),
            (&format!("{b}/subnet-id"), "subnet-1".to_owned()),
            (&format!("{b}/vpc-id"), "vpc-1".to_owned()),
            (&format!("{b}/local-ipv4s"), "10.0.1.10".to_owned()),
            (&format!("{b}/ipv6s"), "2001:db8:0:1::10".to_owned()),
            (
                &format!("{b}/subnet-ipv6-cidr-blocks"),
                "2001:db8:0:1::/64".to_owned(),
            ),
            (
                &format!("{b}/vpc-ipv6-cidr-blocks"),
                "2001:db8::/56".to_owned(),
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }

    fn server() -> String {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", l.local_addr().unwrap());
        std::thread::spawn(move || serve(l, Arc::new(Fixed(table()))));
        url
    }

    #[test]
    fn the_ec2_client_learns_the_node_and_its_role_over_imdsv2() {
        let url = server();
        let c = ec2_client::ImdsClient::with_endpoint(&url).unwrap();
        let m = c.node().unwrap();
        assert_eq!(m.instance_id, "i-0lab");
        assert_eq!(m.interface_id, "eni-1");
        assert_eq!(m.ipv6s[0].to_string(), "2001:db8:0:1::10");
        let r = c.role_credentials().unwrap();
        assert_eq!(r.role, "node");
        assert_eq!(r.credentials.access_key_id, "ASIA1");
        assert_eq!(
            c.get("").unwrap().lines().collect::<Vec<_>>(),
            [
                "iam/",
                "instance-id",
                "instance-type",
                "local-ipv4",
                "mac",
                "network/",
                "placement/"
            ]
        );
        assert!(matches!(
            c.get("no-such-thing"),
            Err(ec2_client::ImdsError::NotFound { .. })
        ));
    }

    #[test]
    fn imdsv1_bad_ttls_and_proxied_requests_are_refused() {
        let url = server();
        let v1 = ureq::get(&format!("{url}/latest/meta-data/instance-id")).call();
        assert!(matches!(v1, Err(ureq::Error::Status(401, _))));
        for ttl in ["0", "21601", "x"] {
            let r = ureq::put(&format!("{url}/latest/api/token"))
                .set("X-aws-ec2-metadata-token-ttl-seconds", ttl)
                .call();
            assert!(matches!(r, Err(ureq::Error::Status(400, _))), "ttl {ttl}");
        }
        let r = ureq::put(&format!("{url}/latest/api/token"))
            .set("X-aws-ec2-metadata-token-ttl-seconds", "60")
            .set("X-Forwarded-For", "10.0.0.1")
            .call();
        assert!(matches!(r, Err(ureq::Error::Status(403, _))));
        let r = ureq::get(&format!("{url}/latest/meta-data/instance-id"))
            .set("X-aws-ec2-metadata-token", "forged")
            .call();
        assert!(matches!(r, Err(ureq::Error::Status(401, _))));
    }
}
