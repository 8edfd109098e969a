//! Errors of the EC2 client: API errors as EC2 reports them (`<Errors><Error><Code>`), with
//! "not found" as its own variant, kept apart from transport and reply-format failures.

use crate::xml;

/// An error from an EC2 call.
#[derive(Debug, thiserror::Error)]
pub enum Ec2Error {
    /// EC2 answered with an error code other than a `*.NotFound` one.
    #[error(
        "EC2 {action} was refused with {code}: {message} (HTTP {status}, request id {request_id}){}",
        hint(code)
    )]
    Api {
        /// The Query action (`AssignIpv6Addresses`, ...).
        action: String,
        /// The HTTP status.
        status: u16,
        /// The EC2 error code (`UnauthorizedOperation`, `RequestLimitExceeded`, ...).
        code: String,
        /// EC2's message.
        message: String,
        /// EC2's request id (for AWS support), or `-`.
        request_id: String,
    },
    /// EC2 answered with a `*.NotFound` error code (for example
    /// `InvalidNetworkInterfaceID.NotFound`): the resource does not exist (any more).
    #[error("EC2 {action}: {code}: {message} (request id {request_id})")]
    NotFound {
        /// The Query action.
        action: String,
        /// The EC2 error code, ending in `.NotFound`.
        code: String,
        /// EC2's message, naming the missing id.
        message: String,
        /// EC2's request id, or `-`.
        request_id: String,
    },
    /// The endpoint could not be reached or the connection failed (after retries).
    #[error(
        "cannot reach the EC2 endpoint {endpoint} for {action}: {source}; check the endpoint URL, \
         the network and that the service is running"
    )]
    Transport {
        /// The Query action.
        action: String,
        /// The endpoint URL.
        endpoint: String,
        /// What failed.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// An HTTP error whose body is not an EC2 error document.
    #[error(
        "EC2 {action} failed with HTTP {status} and a body that is not an EC2 error ({snippet:?}); \
         is {endpoint} an EC2 endpoint?"
    )]
    Http {
        /// The Query action.
        action: String,
        /// The endpoint URL.
        endpoint: String,
        /// The HTTP status.
        status: u16,
        /// The start of the body.
        snippet: String,
    },
    /// A successful reply that is not the expected XML.
    #[error("unexpected reply to EC2 {action}: {detail}; is the endpoint an EC2 API (2016-11-15)?")]
    Reply {
        /// The Query action.
        action: String,
        /// What was wrong, naming the offending value.
        detail: String,
    },
    /// The endpoint URL is not usable.
    #[error(
        "invalid EC2 endpoint URL {url:?}: {reason}; use e.g. http://127.0.0.1:8080 or https://ec2.us-east-1.amazonaws.com"
    )]
    InvalidEndpoint {
        /// The URL given.
        url: String,
        /// Why it is not usable.
        reason: String,
    },
    /// No credentials to sign with (the chain found none, or STS/IMDS refused).
    #[error("no credentials for EC2 {action}: {source}")]
    Credentials {
        /// The Query action.
        action: String,
        /// Why.
        #[source]
        source: Box<crate::credentials::CredentialsError>,
    },
    /// The request could not be signed.
    #[error("cannot sign the EC2 {action} request: {source}")]
    Sign {
        /// The Query action.
        action: String,
        /// The signer's error.
        #[source]
        source: sigv4::SignError,
    },
}

fn hint(code: &str) -> &'static str {
    match code {
        "UnauthorizedOperation" => {
            "; grant the node role the IPv6 CNI policy (ec2:AssignIpv6Addresses, \
             ec2:DescribeInstances, ec2:DescribeNetworkInterfaces, ...)"
        }
        "AuthFailure" | "SignatureDoesNotMatch" => {
            "; check the access key, secret and region the client is configured with"
        }
        "RequestExpired" => "; check the node's clock",
        "RequestLimitExceeded" => "; EC2 is throttling this account, retry later",
        _ => "",
    }
}

impl Ec2Error {
    /// The EC2 error code, for API errors.
    pub fn code(&self) -> Option<&str> {
        match self {
            Ec2Error::Api { code, .. } | Ec2Error::NotFound { code, .. } => Some(code),
            _ => None,
        }
    }

    /// Whether another attempt may succeed: throttling, EC2 server errors and connection
    /// failures.
    pub fn is_retryable(&self) -> bool {
        match self {
            Ec2Error::Api { status, code, .. } => {
                *status >= 500
                    || matches!(
                        code.as_str(),
                        "RequestLimitExceeded"
                            | "Throttling"
                            | "ThrottlingException"
                            | "RequestThrottled"
                            | "RequestThrottledException"
                            | "InternalError"
                            | "InternalFailure"
                            | "ServiceUnavailable"
                            | "Unavailable"
                    )
            }
            Ec2Error::Http { status, .. } => *status >= 500 || *status == 429,
            Ec2Error::Transport { .. } => true,
            _ => false,
        }
    }
}

/// Builds the error for a non-2xx reply from its status and body.
pub(crate) fn from_error_reply(action: &str, endpoint: &str, status: u16, body: &str) -> Ec2Error {
    let parsed = xml::parse(body).ok().and_then(|root| {
        // `<Response><Errors><Error>..</Error></Errors><RequestID>..</RequestID></Response>`
        let error = root.child("Errors")?.child("Error")?;
        let code = error.child_text("Code")?.to_owned();
        let message = error.child_text("Message").unwrap_or_default().to_owned();
        let request_id = root
            .child_text("RequestID")
            .or_else(|| root.child_text("RequestId"))
            .unwrap_or("-")
            .to_owned();
        Some((code, message, request_id))
    });
    match parsed {
        Some((code, message, request_id)) if code.ends_with(".NotFound") => Ec2Error::NotFound {
            action: action.to_owned(),
            code,
            message,
            request_id,
        },
        Some((code, message, request_id)) => Ec2Error::Api {
            action: action.to_owned(),
            status,
            code,
            message,
            request_id,
        },
        None => Ec2Error::Http {
            action: action.to_owned(),
            endpoint: endpoint.to_owned(),
            status,
            snippet: body.chars().take(200).collect(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const UNAUTHORIZED: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<Response><Errors><Error><Code>UnauthorizedOperation</Code><Message>You are not authorized to perform this operation. User: arn:aws:sts::111122223333:assumed-role/node/i-0123 is not authorized to perform: ec2:AssignIpv6Addresses</Message></Error></Errors><RequestID>7a62c49f-347e-4fc4-9331-6e8eEXAMPLE</RequestID></Response>"#;

    #[test]
    fn parses_an_ec2_error_document() {
        let e = from_error_reply("AssignIpv6Addresses", "http://x", 403, UNAUTHORIZED);
        match &e {
            Ec2Error::Api {
                action,
                status,
                code,
                message,
                request_id,
            } => {
                assert_eq!(action, "AssignIpv6Addresses");
                assert_eq!(*status, 403);
                assert_eq!(code, "UnauthorizedOperation");
                assert!(message.starts_with("You are not authorized"));
                assert_eq!(request_id, "7a62c49f-347e-4fc4-9331-6e8eEXAMPLE");
            }
            other => panic!("{other:?}"),
        }
        assert!(!e.is_retryable());
        assert!(e.to_string().contains("IPv6 CNI policy"), "{e}");
    }

    #[test]
    fn not_found_codes_are_their_own_variant() {
        let body = "<Response><Errors><Error><Code>InvalidNetworkInterfaceID.NotFound</Code>\
                    <Message>The networkInterface ID 'eni-0000' does not exist</Message></Error>\
                    </Errors><RequestID>r1</RequestID></Response>";
        let e = from_error_reply("DescribeNetworkInterfaces", "http://x", 400, body);
        assert!(
            matches!(e, Ec2Error::NotFound { ref code, .. } if code == "InvalidNetworkInterfaceID.NotFound")
        );
        assert_eq!(e.code(), Some("InvalidNetworkInterfaceID.NotFound"));
    }

    #[test]
    fn throttling_and_server_errors_are_retryable() {
        let body = "<Response><Errors><Error><Code>RequestLimitExceeded</Code><Message>Request \
                    limit exceeded.</Message></Error></Errors><RequestID>r</RequestID></Response>";
        assert!(from_error_reply("A", "e", 503, body).is_retryable());
        assert!(from_error_reply("A", "e", 400, body).is_retryable());
        let e = from_error_reply("A", "e", 502, "<html>bad gateway</html>");
        assert!(matches!(e, Ec2Error::Http { status: 502, .. }));
        assert!(e.is_retryable());
        assert!(!from_error_reply("A", "e", 404, "nope").is_retryable());
    }
}
