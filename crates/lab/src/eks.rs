//! The EKS (rest-json, signing name `eks`) and IAM (Query, signing name `iam`) calls the lab
//! makes against its region: the IPv6 node role, `CreateCluster` with `ipFamily=ipv6` (the
//! region chooses the service /108), the `vpc-cni` add-on and a managed node group whose
//! instances become the lab's nodes. Signed with `sigv4`, sent with `ureq`.

use std::time::{Duration, SystemTime};

use serde_json::{Value, json};
use sigv4::{Credentials, HttpRequest, SigningParams};

use crate::error::{LabError, Result};

const TIMEOUT: Duration = Duration::from_secs(10);

/// The IPv6 policy the VPC CNI (here: the node role) needs.
pub const IPV6_POLICY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["ec2:AssignIpv6Addresses","ec2:DescribeInstances","ec2:DescribeTags","ec2:DescribeNetworkInterfaces","ec2:DescribeInstanceTypes"],"Resource":"*"},{"Effect":"Allow","Action":["ec2:CreateTags"],"Resource":["arn:aws:ec2:*:*:network-interface/*"]}]}"#;
/// Who may assume the roles.
const TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":["eks.amazonaws.com","ec2.amazonaws.com"]},"Action":"sts:AssumeRole"}]}"#;

/// A signed client for the region's EKS and IAM endpoints.
#[derive(Debug, Clone)]
pub struct Eks {
    agent: ureq::Agent,
    endpoint: String,
    host: String,
    region: String,
    creds: Credentials,
}

/// Where a call ended: the HTTP status and the JSON body (or the body text as a string).
type Answer = (u16, Value);

impl Eks {
    /// A client for the region at `endpoint` (`http://127.0.0.1:PORT`).
    pub fn new(endpoint: &str, region: &str, creds: Credentials) -> Eks {
        let endpoint = endpoint.trim_end_matches('/').to_owned();
        let host = endpoint
            .split_once("://")
            .map(|(_, h)| h.to_owned())
            .unwrap_or_else(|| endpoint.clone());
        Eks {
            agent: ureq::AgentBuilder::new().timeout(TIMEOUT).build(),
            endpoint,
            host,
            region: region.to_owned(),
            creds,
        }
    }

    /// Send one request signed for `service`; the HTTP status and body text, whatever the status.
    pub(crate) fn send(
        &self,
        service: &str,
        method: &str,
        path: &str,
        content_type: &str,
        body: &[u8],
    ) -> Result<(u16, String)> {
        let headers = vec![
            ("Host".to_owned(), self.host.clone()),
            ("Content-Type".to_owned(), content_type.to_owned()),
        ];
        let req = HttpRequest {
            method,
            path,
            query: "",
            headers: &headers,
            body,
        };
        let signed = sigv4::sign(
            &req,
            &self.creds,
            &SigningParams {
                region: &self.region,
                service,
                time: SystemTime::now(),
                content_sha256_header: false,
            },
        )
        .map_err(|e| LabError::Eks {
            op: format!("{method} {path}"),
            detail: format!("signing: {e}"),
        })?;
        let mut r = self
            .agent
            .request(method, &format!("{}{path}", self.endpoint));
        for (k, v) in headers.iter().chain(&signed) {
            r = r.set(k, v);
        }
        let resp = match r.send_bytes(body) {
            Ok(resp) => resp,
            Err(ureq::Error::Status(_, resp)) => resp,
            Err(e) => {
                return Err(LabError::Eks {
                    op: format!("{method} {path}"),
                    detail: e.to_string(),
                });
            }
        };
        let status = resp.status();
        let text = resp.into_string().map_err(|e| LabError::Eks {
            op: format!("{method} {path}"),
            detail: format!("reading the HTTP {status} answer: {e}"),
        })?;
        Ok((status, text))
    }

    /// One EKS call; the JSON answer of a 2xx, an error naming the region's message otherwise.
    pub fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Value> {
        let (status, v) = self.raw(method, path, body)?;
        if (200..300).contains(&status) {
            Ok(v)
        } else {
            Err(LabError::Eks {
                op: format!("{method} {path}"),
                detail: format!("HTTP {status}: {}", answer_message(&v)),
            })
        }
    }

    /// A GET whose status the caller judges (e.g. a 404 that means "no such cluster").
    pub fn get(&self, path: &str) -> Result<(u16, Value)> {
        self.raw("GET", path, None)
    }

    fn raw(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Answer> {
        let bytes = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
        let (status, text) = self.send("eks", method, path, "application/json", &bytes)?;
        let v = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Ok((status, v))
    }

    /// Check that the region serves EKS (`ListClusters`, `GET /clusters`, answers its JSON); the
    /// lab builds its cluster only through EKS, so an error names what the region answered.
    pub fn require(&self) -> Result<()> {
        let refused = |detail: String| LabError::Eks {
            op: "ListClusters (GET /clusters)".into(),
            detail: format!(
                "{detail}; the lab builds its cluster only through the region's EKS API, so this region cannot host a lab"
            ),
        };
        match self.raw("GET", "/clusters", None) {
            Ok((200, v)) if v.get("clusters").is_some() => Ok(()),
            Ok((status, v)) => Err(refused(format!(
                "the region answered HTTP {status}: {}",
                answer_message(&v)
            ))),
            Err(e) => Err(refused(e.to_string())),
        }
    }

    /// One IAM Query call (`Version=2010-05-08`).
    pub(crate) fn iam(&self, action: &str, params: &[(&str, &str)]) -> Result<String> {
        let mut form = form(&[("Action", action), ("Version", "2010-05-08")]);
        form.push('&');
        form.push_str(&self::form(params));
        let (status, text) = self.send(
            "iam",
            "POST",
            "/",
            "application/x-www-form-urlencoded; charset=utf-8",
            form.as_bytes(),
        )?;
        if (200..300).contains(&status) || text.contains("EntityAlreadyExists") {
            Ok(text)
        } else {
            Err(LabError::Eks {
                op: format!("IAM {action}"),
                detail: format!(
                    "HTTP {status}: {}",
                    text.chars().take(300).collect::<String>()
                ),
            })
        }
    }

    /// Create role `name` with the IPv6 CNI policy; returns its ARN.
    pub fn ipv6_role(&self, name: &str) -> Result<String> {
        let created = self.iam(
            "CreateRole",
            &[("RoleName", name), ("AssumeRolePolicyDocument", TRUST)],
        )?;
        let arn = ec2_client::xml::parse(&created)
            .ok()
            .and_then(|root| {
                root.child("CreateRoleResult")
                    .and_then(|r| r.child("Role"))
                    .and_then(|r| r.child_text("Arn"))
                    .map(str::to_owned)
            })
            .ok_or_else(|| LabError::Eks {
                op: "IAM CreateRole".into(),
                detail: format!(
                    "no role ARN in {:?}",
                    created.chars().take(300).collect::<String>()
                ),
            })?;
        self.iam(
            "PutRolePolicy",
            &[
                ("RoleName", name),
                ("PolicyName", "sixfold-ipv6-cni"),
                ("PolicyDocument", IPV6_POLICY),
            ],
        )?;
        Ok(arn)
    }

    /// `CreateCluster` with `ipFamily=ipv6`; returns the cluster (with the service /108).
    pub fn create_cluster(
        &self,
        name: &str,
        version: &str,
        role: &str,
        subnets: &[String],
        security_group: &str,
    ) -> Result<Value> {
        let v = self.call(
            "POST",
            "/clusters",
            Some(&json!({
                "name": name,
                "version": version,
                "roleArn": role,
                "resourcesVpcConfig": {"subnetIds": subnets, "securityGroupIds": [security_group]},
                "kubernetesNetworkConfig": {"ipFamily": "ipv6"},
            })),
        )?;
        Ok(v["cluster"].clone())
    }

    /// `CreateAddon vpc-cni` (the default version for the cluster); returns its version.
    pub fn vpc_cni(&self, cluster: &str, role: &str) -> Result<String> {
        let v = self.call(
            "POST",
            &format!("/clusters/{cluster}/addons"),
            Some(&json!({"addonName": "vpc-cni", "serviceAccountRoleArn": role})),
        )?;
        v["addon"]["addonVersion"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| LabError::Eks {
                op: "CreateAddon vpc-cni".into(),
                detail: format!("no addon.addonVersion in {v}"),
            })
    }

    /// `CreateNodegroup` of `count` Nitro nodes over `subnets`.
    pub fn nodegroup(
        &self,
        cluster: &str,
        name: &str,
        role: &str,
        subnets: &[String],
        count: usize,
        instance_type: &str,
    ) -> Result<Value> {
        let v = self.call(
            "POST",
            &format!("/clusters/{cluster}/node-groups"),
            Some(&json!({
                "nodegroupName": name,
                "nodeRole": role,
                "subnets": subnets,
                // Room to scale (UpdateNodegroupConfig) up to the lab's limit; the reconciler
                // follows.
                "scalingConfig": {
                    "minSize": 1,
                    "maxSize": crate::plan::MAX_NODES.max(count),
                    "desiredSize": count,
                },
                "instanceTypes": [instance_type],
                "amiType": "AL2023_x86_64_STANDARD",
            })),
        )?;
        Ok(v["nodegroup"].clone())
    }
}

fn form(params: &[(&str, &str)]) -> String {
    params
        .iter()
        .map(|(k, v)| {
            format!(
                "{}={}",
                sigv4::uri_encode(k.as_bytes(), false),
                sigv4::uri_encode(v.as_bytes(), false)
            )
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// The `message` of a JSON error answer (EKS's, and that of the region's own `/sixfold/v1/`
/// endpoints), or the whole answer when it has none.
pub(crate) fn answer_message(v: &Value) -> String {
    v["message"]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::TcpListener;

    /// A loopback HTTP server that answers one request with `status` and `body` (what a region
    /// without EKS answers `GET /clusters`), then stops.
    fn one_answer(status: &str, body: &'static str) -> (String, std::thread::JoinHandle<()>) {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let addr = l.local_addr().expect("local addr");
        let status = status.to_owned();
        let h = std::thread::spawn(move || {
            let (mut s, _) = l.accept().expect("accept");
            s.set_read_timeout(Some(Duration::from_secs(5))).ok();
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let answer = format!(
                "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = s.write_all(answer.as_bytes());
        });
        (format!("http://{addr}"), h)
    }

    fn client(endpoint: &str) -> Eks {
        let creds = Credentials {
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: "secret".into(),
            session_token: None,
        };
        Eks::new(endpoint, "us-east-1", creds)
    }

    #[test]
    fn a_region_without_eks_is_an_error_naming_its_answer() {
        let (endpoint, h) = one_answer("404 Not Found", r#"{"message":"no such operation"}"#);
        let err = client(&endpoint)
            .require()
            .expect_err("a region that does not serve EKS must stop the lab")
            .to_string();
        h.join().expect("the stub server");
        for part in [
            "ListClusters",
            "HTTP 404",
            "no such operation",
            "only through",
        ] {
            assert!(err.contains(part), "{part:?} missing from: {err}");
        }
    }

    #[test]
    fn a_region_serving_eks_is_accepted() {
        let (endpoint, h) = one_answer("200 OK", r#"{"clusters":[]}"#);
        client(&endpoint).require().expect("ListClusters answered");
        h.join().expect("the stub server");
    }
}
