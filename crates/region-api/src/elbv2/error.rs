//! The one mapping of ELBv2 domain errors to the wire: the error code of botocore's `elbv2`
//! model and the HTTP status, plus the client-facing message.

use region::elb::ElbError;

/// `(HTTP status, error code)` of a domain error.
pub fn code(e: &ElbError) -> (u16, &'static str) {
    match e {
        ElbError::Validation { .. } => (400, "ValidationError"),
        ElbError::LoadBalancerNotFound(_) => (400, "LoadBalancerNotFound"),
        ElbError::TargetGroupNotFound(_) => (400, "TargetGroupNotFound"),
        ElbError::ListenerNotFound(_) => (400, "ListenerNotFound"),
        ElbError::DuplicateLoadBalancerName(_) => (400, "DuplicateLoadBalancerName"),
        ElbError::DuplicateTargetGroupName(_) => (400, "DuplicateTargetGroupName"),
        ElbError::DuplicateListener { .. } => (400, "DuplicateListener"),
        ElbError::SubnetNotFound(_) => (400, "SubnetNotFound"),
        ElbError::InvalidSubnet { .. } => (400, "InvalidSubnet"),
        ElbError::InvalidSecurityGroup(_) => (400, "InvalidSecurityGroup"),
        ElbError::InvalidConfiguration { .. } => (400, "InvalidConfigurationRequest"),
        ElbError::IncompatibleProtocols { .. } => (400, "IncompatibleProtocols"),
        ElbError::UnsupportedProtocol { .. } => (400, "UnsupportedProtocol"),
        ElbError::InvalidTarget { .. } | ElbError::Rule { .. } => (400, "InvalidTarget"),
        ElbError::ResourceInUse { .. } => (400, "ResourceInUse"),
        ElbError::TooManyTags { .. } => (400, "TooManyTags"),
        ElbError::DuplicateTagKeys(_) => (400, "DuplicateTagKeys"),
        ElbError::TooMany { code, .. } => (400, code),
        ElbError::Store(_) => (500, "InternalFailure"),
    }
}

/// The message a client sees (internal failures are not described to it).
pub fn message(e: &ElbError) -> String {
    match e {
        ElbError::Store(_) => "An internal error occurred; please retry.".into(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_six_rule_is_an_invalid_target_naming_the_rule() {
        let e = ElbError::Rule {
            rule: region::eks::Rule::ElbInstanceTarget,
            value: "i-1".into(),
            message: "m".into(),
            fix: "f".into(),
        };
        assert_eq!(code(&e), (400, "InvalidTarget"));
        assert!(message(&e).starts_with("[SIX-ELB-INSTANCE-TARGET] m"));
    }
}
