//! What both plugins do with one attachment (network, container id, interface): its identity
//! and derived host names, opening its namespace (refusing the node's own), checking and
//! deleting host links — one at a time or as one kernel batch — and garbage-collecting links
//! labelled with attachments that are no longer valid, releasing an attachment's address
//! while its links go, GC's list of valid attachments and CHECK's verdict. Teardown here is
//! best effort.
use std::collections::HashSet;
use std::hash::{BuildHasher, Hasher};

use agent_api::AttachmentKey;
use dataplane::netlink::Netlink;
use dataplane::netns::NetNs;

use crate::config::ValidAttachment;
use crate::error::Error;
use crate::names;
use crate::skel::Request;
use crate::veth::node_netlink;

/// One attachment's identity and derived names.
pub(crate) struct Attachment {
    pub network: String,
    pub container_id: String,
    pub ifname: String,
}

impl Attachment {
    pub fn from_req(req: &Request) -> Result<Attachment, Error> {
        Ok(Attachment {
            network: req.conf.name.clone(),
            container_id: req.env.container_id()?.to_string(),
            ifname: req.env.ifname()?.to_string(),
        })
    }
    pub fn key(&self) -> AttachmentKey {
        AttachmentKey {
            network: self.network.clone(),
            container_id: self.container_id.clone(),
            ifname: self.ifname.clone(),
        }
    }
    pub fn host_veth(&self, prefix: &str) -> String {
        names::host_veth(prefix, &self.network, &self.container_id, &self.ifname)
    }
    pub fn alias(&self, tag: &str) -> String {
        names::alias(tag, &self.network, &self.container_id, &self.ifname)
    }
}

/// Open the container's namespace; a missing one is CNI code 3. The plugin's own namespace
/// (the node's, under any path: compared by device and inode) is refused with code 4, invalid
/// `CNI_NETNS`: wiring a "pod" into it would rewire the node itself.
pub(crate) fn open_pod_ns(req: &Request) -> Result<NetNs, Error> {
    let path = req.env.netns()?;
    let ns = NetNs::open(path).map_err(|source| Error::UnknownContainer {
        netns: path.to_string(),
        source,
    })?;
    match ns.is_own() {
        Ok(false) => Ok(ns),
        Ok(true) => Err(Error::InvalidEnv {
            var: "CNI_NETNS",
            detail: format!(
                "{path} is the plugin's own (the node's) network namespace; pass the container's namespace"
            ),
        }),
        Err(source) => Err(Error::UnknownContainer {
            netns: path.to_string(),
            source,
        }),
    }
}

/// Fail with [`Error::AlreadyExists`] if `name` exists in `nl`'s namespace.
pub(crate) fn ensure_absent(nl: &mut Netlink, name: &str, where_: &str) -> Result<(), Error> {
    match nl.link_get(name) {
        Ok(_) => Err(Error::AlreadyExists {
            what: format!("interface {name} {where_}"),
        }),
        Err(e) if e.is_not_found() => Ok(()),
        Err(e) => Err(Error::dp(format!("looking up interface {name} {where_}"))(
            e,
        )),
    }
}

/// Delete a link by name, treating "already gone" as success.
pub(crate) fn delete_link(nl: &mut Netlink, name: &str) -> Result<(), Error> {
    match nl.link_del_by_name(name) {
        Ok(()) => Ok(()),
        Err(e) if e.is_not_found() => Ok(()),
        Err(e) => Err(Error::dp(format!("deleting interface {name}"))(e)),
    }
}

/// Collect teardown errors: none is success, one is itself, more are [`Error::Many`].
pub(crate) fn collect(mut errors: Vec<Error>) -> Result<(), Error> {
    match errors.len() {
        0 => Ok(()),
        1 => Err(errors.remove(0)),
        _ => Err(Error::Many(errors)),
    }
}

/// Delete the named host links, treating "already gone" as success, with one kernel batch:
/// each present link is moved into a fresh random device group (in the upper half of the u32
/// range, which nothing assigns by default), then the group is deleted with one request, so the
/// kernel's unregistration wait is paid once, not once per link. Falls back to one deletion per
/// link if the batch cannot be used.
pub(crate) fn delete_links_together(nl: &mut Netlink, names: &[&str]) -> Result<(), Error> {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u32(std::process::id());
    let group = 0x8000_0000 | (hasher.finish() as u32);
    let mut grouped = Vec::new();
    let mut errors = Vec::new();
    for name in names {
        match nl.link_set_group_by_name(name, group) {
            Ok(()) => grouped.push(*name),
            Err(e) if e.is_not_found() => {}
            // Could not group it: delete it on its own.
            Err(_) => {
                if let Err(e) = delete_link(nl, name) {
                    errors.push(e);
                }
            }
        }
    }
    if !grouped.is_empty() {
        match nl.link_del_group(group) {
            Ok(()) => {}
            Err(e) if e.is_not_found() => {}
            Err(_) => {
                for name in grouped {
                    if let Err(e) = delete_link(nl, name) {
                        errors.push(e);
                    }
                }
            }
        }
    }
    collect(errors)
}

/// CHECK's verdict: nothing `missing` is success, anything is [`Error::CheckFailed`].
pub(crate) fn verdict(missing: Vec<String>) -> Result<(), Error> {
    if missing.is_empty() {
        Ok(())
    } else {
        Err(Error::CheckFailed(missing))
    }
}

/// GC's list of attachments to keep (`cni.dev/valid-attachments`, required: an empty list
/// is what releases everything).
pub(crate) fn valid_attachments(req: &Request) -> Result<Vec<ValidAttachment>, Error> {
    req.conf.valid_attachments.clone().ok_or_else(|| {
        Error::InvalidConfig(
            "GC needs cni.dev/valid-attachments (an empty list releases everything)".into(),
        )
    })
}

/// The (container id, interface) pairs of `valid`, as [`gc_links`] takes them.
pub(crate) fn keep_set(valid: &[ValidAttachment]) -> HashSet<(String, String)> {
    valid
        .iter()
        .map(|v| (v.container_id.clone(), v.ifname.clone()))
        .collect()
}

/// DEL's two independent halves at once: `release` (giving the attachment's address back,
/// a durable write or a delegated plugin) on its own thread while `links` deletes host links
/// with netlink in the node namespace on this one. `what` names the release in the error its
/// thread's panic becomes. Answers (release, links), for the caller to collect in its order.
pub(crate) fn release_alongside(
    what: &str,
    release: impl FnOnce() -> Result<(), Error> + Send,
    links: impl FnOnce(&mut Netlink) -> Result<(), Error>,
) -> (Result<(), Error>, Result<(), Error>) {
    std::thread::scope(|s| {
        let release = s.spawn(|| {
            dataplane::trace::parallel();
            release()
        });
        let links = node_netlink().and_then(|mut host| links(&mut host));
        let release = release
            .join()
            .unwrap_or_else(|_| Err(Error::NotAvailable(format!("the {what} thread panicked"))));
        (release, links)
    })
}

/// Delete host links labelled `tag/network/...` whose attachment is not in `keep`.
pub(crate) fn gc_links(
    tag: &str,
    network: &str,
    keep: &HashSet<(String, String)>,
) -> Result<(), Error> {
    let mut host = node_netlink()?;
    let links = host
        .link_list()
        .map_err(Error::dp("listing node interfaces"))?;
    let mut errors = Vec::new();
    for link in links {
        let Some(alias) = link.alias.as_deref() else {
            continue;
        };
        let Some((net, cid, ifname)) = names::parse_alias(tag, alias) else {
            continue;
        };
        if net == network
            && !keep.contains(&(cid.to_string(), ifname.to_string()))
            && let Err(e) = delete_link(&mut host, &link.name)
        {
            errors.push(e);
        }
    }
    collect(errors)
}
