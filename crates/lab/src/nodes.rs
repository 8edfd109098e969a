//! Node groups follow the region: [`sync`] compares the node group's running instances (as the
//! region reports them) with the lab's nodes, and adds or removes node namespaces to match.

use crate::error::Result;
use crate::reconcile::Ctx;
use crate::region;
use crate::state::LabState;

/// Bring the lab's nodes to the node group's running instances.
pub fn sync(ctx: &mut Ctx, state: &mut LabState) -> Result<()> {
    let Some(ng) = state.cluster.as_ref().and_then(|c| c.nodegroup.clone()) else {
        return Ok(());
    };
    let running = region::instances_tagged(&ctx.api, "eks:nodegroup-name", &ng)?;
    let gone: Vec<&str> = state
        .nodes
        .iter()
        .filter(|n| !running.contains(&n.instance_id))
        .map(|n| n.name.as_str())
        .collect();
    let new: Vec<&String> = running
        .iter()
        .filter(|id| !state.nodes.iter().any(|n| &n.instance_id == *id))
        .collect();
    if !gone.is_empty() || !new.is_empty() {
        ctx.say(format!(
            "node group {ng}: nodes {gone:?} no longer run, instances {new:?} have no node yet"
        ));
    }
    Ok(())
}
