//! `sixfold-cni`: the pod's IPv6 address and veth (see `cni::pod`).
fn main() {
    cni::skel::main(&cni::pod::PodPlugin)
}
