//! `sixfold-egress-cni`: the pod's node-local IPv4 egress, chained after `sixfold-cni` (see `cni::egress`).
fn main() {
    cni::skel::main(&cni::egress::EgressPlugin)
}
