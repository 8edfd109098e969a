//! The netlink wire format: message building (header, fixed part, attributes, nesting) and
//! attribute parsing. No I/O here; the socket lives in [`super::socket`].

/// Netlink message and attribute constants (from `linux/netlink.h`, `rtnetlink.h`, `if_link.h`,
/// `if_addr.h`, `neighbour.h`, `veth.h`, `nfnetlink.h`, `nf_tables.h`). Spelled out here rather
/// than taken from `libc` so that every number the client sends is visible in one place.
pub(crate) mod c {
    pub const NLMSG_HDRLEN: usize = 16;
    pub const NLMSG_ERROR: u16 = 2;
    pub const NLMSG_DONE: u16 = 3;
    pub const NLM_F_REQUEST: u16 = 0x1;
    pub const NLM_F_MULTI: u16 = 0x2;
    pub const NLM_F_ACK: u16 = 0x4;
    pub const NLM_F_DUMP_INTR: u16 = 0x10;
    pub const NLM_F_DUMP: u16 = 0x300;
    pub const NLM_F_REPLACE: u16 = 0x100;
    pub const NLM_F_EXCL: u16 = 0x200;
    pub const NLM_F_CREATE: u16 = 0x400;
    pub const NLM_F_ACK_TLVS: u16 = 0x200;
    pub const NLMSGERR_ATTR_MSG: u16 = 1;
    pub const SOL_NETLINK: i32 = 270;
    pub const NETLINK_CAP_ACK: i32 = 10;
    pub const NETLINK_EXT_ACK: i32 = 11;
    pub const NLA_F_NESTED: u16 = 0x8000;
    pub const NLA_TYPE_MASK: u16 = 0x3fff;

    pub const RTM_NEWLINK: u16 = 16;
    pub const RTM_DELLINK: u16 = 17;
    pub const RTM_GETLINK: u16 = 18;
    pub const RTM_NEWADDR: u16 = 20;
    pub const RTM_DELADDR: u16 = 21;
    pub const RTM_GETADDR: u16 = 22;
    pub const RTM_NEWROUTE: u16 = 24;
    pub const RTM_DELROUTE: u16 = 25;
    pub const RTM_GETROUTE: u16 = 26;
    pub const RTM_NEWNEIGH: u16 = 28;
    pub const RTM_DELNEIGH: u16 = 29;
    pub const RTM_GETNEIGH: u16 = 30;

    pub const IFLA_ADDRESS: u16 = 1;
    pub const IFLA_IFNAME: u16 = 3;
    pub const IFLA_MTU: u16 = 4;
    pub const IFLA_LINKINFO: u16 = 18;
    pub const IFLA_IFALIAS: u16 = 20;
    pub const IFLA_GROUP: u16 = 27;
    pub const IFLA_NET_NS_FD: u16 = 28;
    pub const IFLA_INFO_KIND: u16 = 1;
    pub const IFLA_INFO_DATA: u16 = 2;
    pub const VETH_INFO_PEER: u16 = 1;
    pub const IFF_UP: u32 = 0x1;

    pub const IFA_ADDRESS: u16 = 1;
    pub const IFA_LOCAL: u16 = 2;
    pub const IFA_FLAGS: u16 = 8;
    pub const IFA_F_NODAD: u32 = 0x02;
    pub const IFA_F_NOPREFIXROUTE: u32 = 0x200;

    pub const RTA_DST: u16 = 1;
    pub const RTA_OIF: u16 = 4;
    pub const RTA_GATEWAY: u16 = 5;
    pub const RTA_PRIORITY: u16 = 6;
    pub const RTA_PREFSRC: u16 = 7;
    pub const RTA_TABLE: u16 = 15;
    pub const RT_TABLE_MAIN: u8 = 254;
    pub const RTPROT_STATIC: u8 = 4;
    pub const RTN_UNICAST: u8 = 1;
    pub const RT_SCOPE_NOWHERE: u8 = 255;

    pub const NDA_DST: u16 = 1;
    pub const NDA_LLADDR: u16 = 2;
    pub const NUD_PERMANENT: u16 = 0x80;

    pub const NETLINK_NETFILTER: i32 = 12;
    pub const NFNL_SUBSYS_NFTABLES: u16 = 10;
    pub const NFT_MSG_GETTABLE: u16 = 1;
    pub const NFTA_TABLE_NAME: u16 = 1;
    pub const NFTA_TABLE_USERDATA: u16 = 6;
}

/// Round up to the 4-byte netlink alignment.
pub(crate) const fn align(n: usize) -> usize {
    (n + 3) & !3
}

/// Builds one netlink request: header, fixed-size family header, then attributes.
pub(crate) struct Msg {
    buf: Vec<u8>,
    nests: Vec<usize>,
}

impl Msg {
    /// Start a message of `ty` with `flags` (`NLM_F_REQUEST` is always added).
    pub fn new(ty: u16, flags: u16) -> Self {
        let mut buf = Vec::with_capacity(256);
        buf.extend_from_slice(&0u32.to_ne_bytes()); // length, patched in finish()
        buf.extend_from_slice(&ty.to_ne_bytes());
        buf.extend_from_slice(&(flags | c::NLM_F_REQUEST).to_ne_bytes());
        buf.extend_from_slice(&0u32.to_ne_bytes()); // seq, set by the socket
        buf.extend_from_slice(&0u32.to_ne_bytes()); // port id: the kernel fills it in
        Msg {
            buf,
            nests: Vec::new(),
        }
    }

    /// Append raw bytes (a fixed family header), padded to alignment.
    pub fn raw(mut self, bytes: &[u8]) -> Self {
        self.buf.extend_from_slice(bytes);
        self.pad();
        self
    }

    fn pad(&mut self) {
        let n = align(self.buf.len());
        self.buf.resize(n, 0);
    }

    /// Append one attribute.
    pub fn attr(mut self, ty: u16, payload: &[u8]) -> Self {
        self.push_attr(ty, payload);
        self
    }

    fn push_attr(&mut self, ty: u16, payload: &[u8]) {
        let len = 4 + payload.len();
        // Attribute payloads here are names, addresses and small integers: far below u16::MAX.
        self.buf.extend_from_slice(&(len as u16).to_ne_bytes());
        self.buf.extend_from_slice(&ty.to_ne_bytes());
        self.buf.extend_from_slice(payload);
        self.pad();
    }

    /// Append a NUL-terminated string attribute.
    pub fn attr_str(self, ty: u16, s: &str) -> Self {
        let mut v = s.as_bytes().to_vec();
        v.push(0);
        self.attr(ty, &v)
    }

    /// Append a u32 attribute (native endian).
    pub fn attr_u32(self, ty: u16, v: u32) -> Self {
        self.attr(ty, &v.to_ne_bytes())
    }

    /// Open a nested attribute; close it with [`Msg::end_nest`].
    pub fn nest(mut self, ty: u16) -> Self {
        self.nests.push(self.buf.len());
        self.buf.extend_from_slice(&0u16.to_ne_bytes());
        self.buf
            .extend_from_slice(&(ty | c::NLA_F_NESTED).to_ne_bytes());
        self
    }

    /// Close the innermost nested attribute.
    pub fn end_nest(mut self) -> Self {
        if let Some(start) = self.nests.pop() {
            let len = (self.buf.len() - start) as u16;
            self.buf[start..start + 2].copy_from_slice(&len.to_ne_bytes());
        }
        self
    }

    /// Finish with sequence number `seq`.
    pub fn finish(mut self, seq: u32) -> Vec<u8> {
        while !self.nests.is_empty() {
            self = self.end_nest();
        }
        let len = self.buf.len() as u32;
        self.buf[0..4].copy_from_slice(&len.to_ne_bytes());
        self.buf[8..12].copy_from_slice(&seq.to_ne_bytes());
        self.buf
    }
}

/// Iterate over the attributes in `buf` as `(type without flags, payload)`.
pub(crate) fn attrs(buf: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    let mut off = 0usize;
    std::iter::from_fn(move || {
        if off + 4 > buf.len() {
            return None;
        }
        let len = u16::from_ne_bytes([buf[off], buf[off + 1]]) as usize;
        let ty = u16::from_ne_bytes([buf[off + 2], buf[off + 3]]) & c::NLA_TYPE_MASK;
        if len < 4 || off + len > buf.len() {
            return None;
        }
        let payload = &buf[off + 4..off + len];
        off += align(len);
        Some((ty, payload))
    })
}

/// Read a native-endian u32 at `off`, if the buffer is long enough.
pub(crate) fn u32_at(buf: &[u8], off: usize) -> Option<u32> {
    buf.get(off..off + 4)
        .map(|b| u32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
}

/// Read a native-endian u16 at `off`.
pub(crate) fn u16_at(buf: &[u8], off: usize) -> Option<u16> {
    buf.get(off..off + 2)
        .map(|b| u16::from_ne_bytes([b[0], b[1]]))
}

/// A NUL-terminated string payload.
pub(crate) fn c_str(payload: &[u8]) -> String {
    let end = payload
        .iter()
        .position(|&b| b == 0)
        .unwrap_or(payload.len());
    String::from_utf8_lossy(&payload[..end]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_attributes_have_their_lengths_patched() {
        let m = Msg::new(c::RTM_NEWLINK, 0)
            .raw(&[0u8; 16])
            .nest(c::IFLA_LINKINFO)
            .attr_str(c::IFLA_INFO_KIND, "veth")
            .end_nest()
            .finish(7);
        assert_eq!(u32_at(&m, 0).unwrap() as usize, m.len());
        assert_eq!(u32_at(&m, 8), Some(7));
        let body = &m[c::NLMSG_HDRLEN + 16..];
        let all: Vec<_> = attrs(body).collect();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].0, c::IFLA_LINKINFO);
        let inner: Vec<_> = attrs(all[0].1).collect();
        assert_eq!(inner[0].0, c::IFLA_INFO_KIND);
        assert_eq!(c_str(inner[0].1), "veth");
    }

    #[test]
    fn attribute_iteration_stops_at_truncation() {
        let buf = [8u8, 0, 1, 0, 1, 2, 3, 4, 200, 0, 2, 0];
        let all: Vec<_> = attrs(&buf).collect();
        assert_eq!(all, vec![(1u16, &[1u8, 2, 3, 4][..])]);
    }
}
