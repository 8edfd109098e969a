//! What load balancers' health checks saw, reported back to the region: the lab's load balancer
//! daemons probe their targets and report verdicts (`POST /sixfold/v1/target-health`, see
//! docs/region.md), so `DescribeTargetHealth` answers `healthy` / `unhealthy` with AWS's reason
//! codes instead of `initial`. A report is checked whole before anything is stored; a verdict on
//! a target that is no longer registered (deregistered while it was being probed) is skipped, not
//! an error; an unchanged verdict writes nothing.

use super::ElbError;
use super::model::{HealthReason, MAX_TARGETS_PER_GROUP, ProbedHealth};
use crate::state::State;

/// Longest `codes` value of a report (`200,301,404,...`).
pub const MAX_CODES: usize = 64;

/// One verdict: the target (id and port, as registered) and what its checks saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthReport {
    /// The target's id (an IP address or instance id).
    pub id: String,
    /// The target's port.
    pub port: u16,
    /// What its checks saw.
    pub health: ProbedHealth,
}

/// What a report did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReportOutcome {
    /// Verdicts that changed a target's health.
    pub changed: usize,
    /// Verdicts equal to what was stored.
    pub unchanged: usize,
    /// Verdicts on targets not registered in the group (skipped).
    pub not_registered: usize,
}

fn check(r: &HealthReport) -> Result<(), ElbError> {
    let h = &r.health;
    match (h.healthy, h.reason) {
        (true, Some(reason)) => {
            return Err(ElbError::invalid(
                "reason",
                reason.as_str(),
                format!(
                    "Target '{}' is reported healthy; a reason goes only with an unhealthy verdict.",
                    r.id
                ),
            ));
        }
        (false, None) => {
            return Err(ElbError::invalid(
                "reason",
                "(none)",
                format!(
                    "Target '{}' is reported unhealthy; name why: one of {}.",
                    r.id,
                    HealthReason::choices()
                ),
            ));
        }
        _ => {}
    }
    if let Some(codes) = &h.codes {
        let ok = h.reason == Some(HealthReason::ResponseCodeMismatch)
            && !codes.is_empty()
            && codes.len() <= MAX_CODES
            && codes.bytes().all(|b| b.is_ascii_digit() || b == b',');
        if !ok {
            return Err(ElbError::invalid(
                "codes",
                codes.chars().take(MAX_CODES).collect::<String>(),
                format!(
                    "codes go only with reason {} and are HTTP codes separated by commas (at most {MAX_CODES} characters), like 404 or 500,503.",
                    HealthReason::ResponseCodeMismatch.as_str()
                ),
            ));
        }
    }
    Ok(())
}

impl State {
    /// Store the verdicts of one health-check round on target group `arn`.
    pub fn report_target_health(
        &mut self,
        arn: &str,
        reports: &[HealthReport],
    ) -> Result<ReportOutcome, ElbError> {
        if reports.len() > MAX_TARGETS_PER_GROUP {
            return Err(ElbError::invalid(
                "targets",
                format!("{} verdicts", reports.len()),
                format!(
                    "Report at most {MAX_TARGETS_PER_GROUP} targets (a group's quota) per call."
                ),
            ));
        }
        let tg = self.target_group(arn)?;
        for r in reports {
            check(r)?;
        }
        let mut out = ReportOutcome::default();
        let mut changes = Vec::new();
        for r in reports {
            match tg
                .targets
                .iter()
                .position(|t| t.id == r.id && t.port == r.port)
            {
                None => out.not_registered += 1,
                Some(i) if tg.targets[i].health.as_ref() == Some(&r.health) => out.unchanged += 1,
                Some(i) => {
                    out.changed += 1;
                    changes.push((i, r.health.clone()));
                }
            }
        }
        if !changes.is_empty()
            && let Some(tg) = self.elb_target_groups.get_mut(arn)
        {
            for (i, h) in changes {
                if let Some(t) = tg.targets.get_mut(i) {
                    t.health = Some(h);
                }
            }
        }
        Ok(out)
    }
}
