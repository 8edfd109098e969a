//! The one mapping of domain errors to EKS wire errors: HTTP status, `x-amzn-ErrorType` and the
//! message a client sees (store failures stay in the log).

use region::eks::{EksError, Rule};
use region::store::StoreError;

/// (HTTP status, error type) of a domain error, as botocore's EKS model declares them.
pub fn code(e: &EksError) -> (u16, &'static str) {
    const INVALID_PARAMETER: (u16, &str) = (400, "InvalidParameterException");
    const INVALID_REQUEST: (u16, &str) = (400, "InvalidRequestException");
    const NOT_FOUND: (u16, &str) = (404, "ResourceNotFoundException");
    const IN_USE: (u16, &str) = (409, "ResourceInUseException");
    match e {
        EksError::Rule { rule, .. } => match rule {
            // What the request asks for is not allowed: a parameter is wrong.
            Rule::IpFamilyImmutable
            | Rule::NoDualStack
            | Rule::ServiceCidrGenerated
            | Rule::Ipv6KubernetesVersion
            | Rule::SubnetDualStack
            | Rule::NoOutposts
            | Rule::Ipv4ServiceCidrPrivate
            | Rule::Ipv4ServiceCidrLength
            | Rule::Ipv4ServiceCidrOverlap
            | Rule::NoWindows
            | Rule::NitroOnly
            | Rule::NodeSubnetAutoAssignIpv6
            | Rule::NoImdsIpv6
            | Rule::CniMinVersion
            | Rule::NoCustomNetworking
            | Rule::PrefixDelegation
            | Rule::CniIpv6Policy
            | Rule::FargateSubnetIpv6 => INVALID_PARAMETER,
            // Allowed in general, refused in the cluster's present state.
            Rule::CniDowngradeWithNodes => INVALID_REQUEST,
            // Reported as health issues, never as request errors; mapped for exhaustiveness.
            Rule::RouteIpv6Default
            | Rule::SecurityGroupIpv6
            | Rule::NoFsxLustre
            | Rule::LbcVersion
            | Rule::LbcIpTarget => INVALID_REQUEST,
            // Refused by the ELBv2 API (InvalidTarget), never by EKS; mapped for exhaustiveness.
            Rule::ElbInstanceTarget => INVALID_REQUEST,
        },
        EksError::MissingParameter { .. } | EksError::InvalidParameter { .. } => INVALID_PARAMETER,
        EksError::InvalidRequest { .. } => INVALID_REQUEST,
        EksError::ClusterNotFound { .. }
        | EksError::NodegroupNotFound { .. }
        | EksError::AddonNotFound { .. }
        | EksError::FargateProfileNotFound { .. }
        | EksError::UpdateNotFound { .. } => NOT_FOUND,
        EksError::ClusterExists { .. }
        | EksError::NodegroupExists { .. }
        | EksError::AddonExists { .. }
        | EksError::ClusterHasResources { .. } => IN_USE,
        EksError::FargateProfileExists { .. } => IN_USE,
        EksError::BadRequest { .. } => (400, "BadRequestException"),
        EksError::ArnNotFound { .. } => (404, "NotFoundException"),
        EksError::Ec2 { .. } => INVALID_REQUEST,
        EksError::Store(StoreError::Unavailable(_) | StoreError::Conflict { .. }) => {
            (503, "ServiceUnavailableException")
        }
        EksError::Store(_) => (500, "ServerException"),
    }
}

/// The message a client sees.
pub fn message(e: &EksError) -> String {
    match e {
        EksError::Store(StoreError::Unavailable(_) | StoreError::Conflict { .. }) => {
            "The service is unavailable (the region's store cannot be reached); retry the request."
                .into()
        }
        EksError::Store(_) => "An internal error occurred; please retry.".into(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_request_rule_is_a_4xx() {
        for r in Rule::ALL {
            let e = EksError::rule(r, "v", "m", "f");
            let (status, ty) = code(&e);
            assert!((400..500).contains(&status), "{r}");
            assert!(ty.ends_with("Exception"));
            assert!(message(&e).contains(r.id()));
        }
    }

    #[test]
    fn not_found_is_404_and_conflicts_409() {
        assert_eq!(
            code(&EksError::ClusterNotFound { name: "x".into() }),
            (404, "ResourceNotFoundException")
        );
        assert_eq!(code(&EksError::ClusterExists { name: "x".into() }).0, 409);
    }
}
