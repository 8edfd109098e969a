//! The host↔pod veth pair both plugins make for an attachment: netlink on both sides of it,
//! the check that both names are free, its creation (a taken name is
//! [`Error::AlreadyExists`]), labelling and raising the host end, looking an end up for CHECK,
//! and deleting the host end when an ADD rolls back.
use std::os::fd::AsFd;

use dataplane::netlink::{Link, Netlink, VethSpec};
use dataplane::netns::NetNs;

use crate::attachment::{delete_link, ensure_absent, open_pod_ns};
use crate::error::Error;
use crate::skel::Request;

/// MTU of the pair when the configuration names none.
pub const DEFAULT_MTU: u32 = 1500;

/// Longest interface alias the kernel stores (`IFALIASZ - 1`); a longer label is not set.
const MAX_ALIAS: usize = 255;

/// Netlink in the node's namespace (the plugin's own).
pub(crate) fn node_netlink() -> Result<Netlink, Error> {
    Netlink::open().map_err(Error::dp("opening netlink in the node namespace"))
}

/// Both sides of one ADD: the pod's namespace (at `netns_path`), netlink in it and on the
/// node, and the host end's name.
pub(crate) struct Sides {
    pub netns_path: String,
    pub pod_ns: NetNs,
    pub host: Netlink,
    pub pod: Netlink,
    pub host_name: String,
}

impl Sides {
    /// Open the request's namespace (see [`open_pod_ns`]) and netlink on both sides.
    pub fn open(req: &Request, host_name: String) -> Result<Sides, Error> {
        let netns_path = req.env.netns()?.to_string();
        let pod_ns = open_pod_ns(req)?;
        let host = node_netlink()?;
        let pod = pod_ns
            .netlink()
            .map_err(Error::dp(format!("opening netlink in {netns_path}")))?;
        Ok(Sides {
            netns_path,
            pod_ns,
            host,
            pod,
            host_name,
        })
    }

    /// Fail with [`Error::AlreadyExists`] unless the host end's name is free on the node and
    /// `ifname` is free in the pod.
    pub fn ensure_free(&mut self, ifname: &str) -> Result<(), Error> {
        ensure_absent(&mut self.host, &self.host_name, "on the node")?;
        ensure_absent(&mut self.pod, ifname, &format!("in {}", self.netns_path))
    }

    /// Create the pair: the host end on the node, `ifname` in the pod, both with `mtu`.
    pub fn create(&mut self, ifname: &str, mtu: u32) -> Result<(), Error> {
        let host_name = &self.host_name;
        self.host
            .veth_create(&VethSpec {
                name: host_name,
                peer_name: ifname,
                peer_netns: Some(self.pod_ns.as_fd()),
                mtu: Some(mtu),
            })
            .map_err(|e| match e {
                e if e.is_exists() => Error::AlreadyExists {
                    what: format!("interface {host_name} or {ifname} in {}", self.netns_path),
                },
                e => Error::dp(format!("creating veth {host_name} <-> {ifname}"))(e),
            })
    }
}

/// Label the host end `name` (index `index`) with `alias` (a label longer than the kernel
/// keeps is left off: GC then cannot find the link, DEL still can by name) and set it up.
pub(crate) fn label_and_raise(
    host: &mut Netlink,
    index: u32,
    name: &str,
    alias: &str,
) -> Result<(), Error> {
    if alias.len() <= MAX_ALIAS {
        host.link_set_alias(index, alias)
            .map_err(Error::dp(format!("labelling {name}")))?;
    }
    host.link_set_up(index, true)
        .map_err(Error::dp(format!("setting {name} up")))
}

/// The link `name` in `nl`'s namespace, `None` if there is none; `what` names the lookup in
/// the error of any other failure.
pub(crate) fn find_link(nl: &mut Netlink, name: &str, what: &str) -> Result<Option<Link>, Error> {
    match nl.link_get(name) {
        Ok(l) => Ok(Some(l)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(Error::dp(what)(e)),
    }
}

/// Best effort, for a rollback whose ADD already failed and reports its own error: delete the
/// host end `name`, if one was made.
pub(crate) fn delete_quietly(name: Option<String>) {
    if let Some(name) = name
        && let Ok(mut nl) = Netlink::open()
    {
        let _ = delete_link(&mut nl, &name);
    }
}
