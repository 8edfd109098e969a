//! A tiny DNS codec (RFC 1035) for the cluster DNS: the server answers AAAA questions for
//! `NAME.NAMESPACE.svc.cluster.local` from a table (A questions get an empty answer: services
//! are IPv6 only; unknown names NXDOMAIN), and the probe's client asks for AAAA. Pure.

use std::collections::BTreeMap;
use std::net::Ipv6Addr;

const TYPE_A: u16 = 1;
const TYPE_AAAA: u16 = 28;
const CLASS_IN: u16 = 1;
const TTL: u32 = 5;
const RCODE_FORMERR: u8 = 1;
const RCODE_NXDOMAIN: u8 = 3;
const RCODE_NOTIMP: u8 = 4;

/// Why a DNS message could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DnsError {
    #[error("DNS message is malformed: {0}")]
    Malformed(&'static str),
    #[error("DNS answer has id {got}, expected {want}")]
    WrongId { got: u16, want: u16 },
    #[error("DNS server answered rcode {0} (3 = no such name)")]
    Rcode(u8),
    #[error("DNS answer has no AAAA record")]
    NoAddress,
}

fn u16_at(b: &[u8], i: usize) -> Result<u16, DnsError> {
    b.get(i..i + 2)
        .map(|s| u16::from_be_bytes([s[0], s[1]]))
        .ok_or(DnsError::Malformed("truncated"))
}

/// Read a (possibly compressed) name at `i`: (dotted lowercase name, offset after it).
fn read_name(b: &[u8], mut i: usize) -> Result<(String, usize), DnsError> {
    let mut labels = Vec::new();
    let mut end = None;
    for _ in 0..128 {
        let len = *b.get(i).ok_or(DnsError::Malformed("truncated name"))? as usize;
        if len == 0 {
            return Ok((labels.join("."), end.unwrap_or(i + 1)));
        }
        if len & 0xc0 == 0xc0 {
            let ptr = (u16_at(b, i)? & 0x3fff) as usize;
            end.get_or_insert(i + 2);
            i = ptr;
            continue;
        }
        let label = b
            .get(i + 1..i + 1 + len)
            .ok_or(DnsError::Malformed("truncated label"))?;
        labels.push(String::from_utf8_lossy(label).to_ascii_lowercase());
        i += 1 + len;
    }
    Err(DnsError::Malformed("name too long or looping"))
}

fn write_name(out: &mut Vec<u8>, name: &str) {
    for label in name
        .trim_end_matches('.')
        .split('.')
        .filter(|l| !l.is_empty())
    {
        let l = &label.as_bytes()[..label.len().min(63)];
        out.push(l.len() as u8);
        out.extend_from_slice(l);
    }
    out.push(0);
}

/// Build an AAAA query for `name` with `id` (recursion desired).
pub fn query(id: u16, name: &str) -> Vec<u8> {
    let mut q = Vec::with_capacity(64);
    q.extend_from_slice(&id.to_be_bytes());
    q.extend_from_slice(&0x0100u16.to_be_bytes());
    q.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]);
    write_name(&mut q, name);
    q.extend_from_slice(&TYPE_AAAA.to_be_bytes());
    q.extend_from_slice(&CLASS_IN.to_be_bytes());
    q
}

/// Answer one query from `records`; `None` when the message is not worth an answer (too
/// short to carry an id, or itself a response).
pub fn answer(msg: &[u8], records: &BTreeMap<String, Ipv6Addr>) -> Option<Vec<u8>> {
    if msg.len() < 12 || msg[2] & 0x80 != 0 {
        return None;
    }
    let rd = msg[2] & 0x01;
    let mut out = Vec::with_capacity(128);
    out.extend_from_slice(&msg[..2]);
    let reply = |out: &mut Vec<u8>, rcode: u8, qd: u16, an: u16| {
        out.push(0x84 | rd); // QR, AA, RD copied
        out.push(rcode);
        out.extend_from_slice(&qd.to_be_bytes());
        out.extend_from_slice(&an.to_be_bytes());
        out.extend_from_slice(&[0, 0, 0, 0]);
    };
    let qd = u16_at(msg, 4).ok()?;
    let parsed = (qd == 1)
        .then(|| read_name(msg, 12))
        .and_then(Result::ok)
        .and_then(|(name, at)| Some((name, u16_at(msg, at).ok()?, at + 4)));
    let Some((name, qtype, qend)) = parsed.filter(|(_, _, e)| *e <= msg.len()) else {
        reply(&mut out, RCODE_FORMERR, 0, 0);
        return Some(out);
    };
    let question = &msg[12..qend];
    let found = records.get(&name);
    let (rcode, addr) = match (qtype, found) {
        (_, None) => (RCODE_NXDOMAIN, None),
        (TYPE_AAAA, Some(a)) => (0, Some(*a)),
        (TYPE_A, Some(_)) => (0, None),
        (_, Some(_)) => (RCODE_NOTIMP, None),
    };
    reply(&mut out, rcode, 1, u16::from(addr.is_some()));
    out.extend_from_slice(question);
    if let Some(a) = addr {
        out.extend_from_slice(&[0xc0, 12]);
        out.extend_from_slice(&TYPE_AAAA.to_be_bytes());
        out.extend_from_slice(&CLASS_IN.to_be_bytes());
        out.extend_from_slice(&TTL.to_be_bytes());
        out.extend_from_slice(&16u16.to_be_bytes());
        out.extend_from_slice(&a.octets());
    }
    Some(out)
}

/// The first AAAA address of an answer to query `id`.
pub fn parse_answer(id: u16, msg: &[u8]) -> Result<Ipv6Addr, DnsError> {
    let got = u16_at(msg, 0)?;
    if got != id {
        return Err(DnsError::WrongId { got, want: id });
    }
    let rcode = msg.get(3).ok_or(DnsError::Malformed("truncated"))? & 0x0f;
    if rcode != 0 {
        return Err(DnsError::Rcode(rcode));
    }
    let (qd, an) = (u16_at(msg, 4)?, u16_at(msg, 6)?);
    let mut i = 12;
    for _ in 0..qd {
        i = read_name(msg, i)?.1 + 4;
    }
    for _ in 0..an {
        let (_, at) = read_name(msg, i)?;
        let ty = u16_at(msg, at)?;
        let len = u16_at(msg, at + 8)? as usize;
        let data = msg
            .get(at + 10..at + 10 + len)
            .ok_or(DnsError::Malformed("truncated record"))?;
        if ty == TYPE_AAAA && len == 16 {
            let mut o = [0u8; 16];
            o.copy_from_slice(data);
            return Ok(Ipv6Addr::from(o));
        }
        i = at + 10 + len;
    }
    Err(DnsError::NoAddress)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> BTreeMap<String, Ipv6Addr> {
        [(
            "web1.default.svc.cluster.local".to_string(),
            "fd12::100".parse().unwrap(),
        )]
        .into()
    }

    #[test]
    fn aaaa_questions_are_answered() {
        let q = query(0x1234, "Web1.default.svc.cluster.local.");
        let a = answer(&q, &table()).unwrap();
        assert_eq!(parse_answer(0x1234, &a).unwrap().to_string(), "fd12::100");
        assert!(matches!(
            parse_answer(0x9999, &a),
            Err(DnsError::WrongId { .. })
        ));
    }

    #[test]
    fn unknown_names_are_nxdomain() {
        let q = query(7, "nope.default.svc.cluster.local");
        let a = answer(&q, &table()).unwrap();
        assert_eq!(parse_answer(7, &a), Err(DnsError::Rcode(3)));
    }

    #[test]
    fn a_questions_get_no_address() {
        let mut q = query(8, "web1.default.svc.cluster.local");
        let n = q.len();
        q[n - 3] = TYPE_A as u8;
        let a = answer(&q, &table()).unwrap();
        assert_eq!(parse_answer(8, &a), Err(DnsError::NoAddress));
    }

    #[test]
    fn garbage_gets_formerr_or_nothing() {
        assert!(answer(&[1, 2, 3], &table()).is_none());
        let a = answer(&[0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 63], &table()).unwrap();
        assert_eq!(a[3] & 0x0f, RCODE_FORMERR);
    }
}
