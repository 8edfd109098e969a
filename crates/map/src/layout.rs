//! Where a prefix sits inside its parent, as positions on a line: the geometry of "a /80 drawn
//! inside its /64 inside the /56". Children are placed at their offset within the parent's
//! address span, given a minimum visible size, and pushed apart (keeping their order) only as much
//! as needed so none overlap. Pure arithmetic.

use std::net::Ipv6Addr;

use ipnet::Ipv6Net;

/// 2^bits as f64.
fn pow2(bits: u8) -> f64 {
    2f64.powi(i32::from(bits))
}

/// Where `addr` sits in `parent`, as a fraction in [0, 1); `None` if outside.
pub fn addr_fraction(parent: Ipv6Net, addr: Ipv6Addr) -> Option<f64> {
    if !parent.contains(&addr) {
        return None;
    }
    let offset = u128::from(addr) - u128::from(parent.network());
    Some(offset as f64 / pow2(128 - parent.prefix_len()))
}

/// Where `child` sits in `parent`: `(start, length)` as fractions of the parent's span;
/// `None` if `child` is not inside `parent`.
pub fn span(parent: Ipv6Net, child: Ipv6Net) -> Option<(f64, f64)> {
    if child.prefix_len() < parent.prefix_len() || !parent.contains(&child.network()) {
        return None;
    }
    let start = addr_fraction(parent, child.network())?;
    Some((start, 1.0 / pow2(child.prefix_len() - parent.prefix_len())))
}

/// How many prefixes of length `len` fit in `parent` (saturating at u128::MAX).
pub fn slots(parent: Ipv6Net, len: u8) -> u128 {
    let bits = len.saturating_sub(parent.prefix_len());
    1u128.checked_shl(u32::from(bits)).unwrap_or(u128::MAX)
}

/// Lay `spans` (`(start, length)` fractions, sorted by start) out on a line of `width`: each box
/// starts at `start * width` and is `length * width` wide, but at least `min` wide; boxes keep
/// their order and stay `gap` apart, pushed right (then left, at the end of the line) only as far
/// as needed. When they cannot all fit at `min`, they shrink evenly. Returns `(x, w)` per span.
pub fn place(spans: &[(f64, f64)], width: f64, min: f64, gap: f64) -> Vec<(f64, f64)> {
    let n = spans.len();
    if n == 0 {
        return Vec::new();
    }
    let gaps = gap * (n.saturating_sub(1)) as f64;
    let room = (width - gaps).max(0.0);
    let min = min.min(room / n as f64);
    let mut out: Vec<(f64, f64)> = spans
        .iter()
        .map(|&(s, l)| (s * width, (l * width).max(min)))
        .collect();
    let total: f64 = out.iter().map(|b| b.1).sum();
    if total > room {
        // Proportional widths do not fit next to each other: share the room by weight.
        let scale = room / total;
        for b in &mut out {
            b.1 *= scale;
        }
    }
    let mut end = f64::NEG_INFINITY;
    for b in &mut out {
        b.0 = b.0.max(end + gap).max(0.0);
        end = b.0 + b.1;
    }
    let mut limit = width + gap;
    for b in out.iter_mut().rev() {
        b.0 = b.0.min(limit - gap - b.1);
        limit = b.0;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> Ipv6Net {
        s.parse().unwrap()
    }

    #[test]
    fn a_child_prefix_sits_at_its_offset_with_its_share_of_the_span() {
        let vpc = net("2001:db8:2eee:7100::/56");
        let (s, l) = span(vpc, net("2001:db8:2eee:7180::/64")).unwrap();
        assert_eq!((s, l), (0.5, 1.0 / 256.0));
        let subnet = net("2001:db8:2eee:7101::/64");
        let (s, l) = span(subnet, net("2001:db8:2eee:7101:6140::/80")).unwrap();
        assert!((s - 0x6140 as f64 / 65536.0).abs() < 1e-12);
        assert_eq!(l, 1.0 / 65536.0);
        assert_eq!(span(subnet, vpc), None, "a parent is not inside its child");
        assert_eq!(span(subnet, net("2001:db8:2eee:7102::/80")), None);
        assert_eq!(slots(vpc, 64), 256);
        assert_eq!(slots(net("::/0"), 128), u128::MAX);
    }

    #[test]
    fn boxes_keep_order_never_overlap_and_stay_inside() {
        // Three /64s at the start of a /56, and one in the middle.
        let spans = [
            (0.0, 1.0 / 256.0),
            (1.0 / 256.0, 1.0 / 256.0),
            (2.0 / 256.0, 1.0 / 256.0),
            (0.5, 1.0 / 256.0),
        ];
        let out = place(&spans, 1000.0, 200.0, 10.0);
        for w in out.windows(2) {
            assert!(w[0].0 + w[0].1 + 10.0 <= w[1].0 + 1e-9, "{out:?}");
        }
        assert!(
            out[0].0 >= 0.0 && out[3].0 + out[3].1 <= 1000.0 + 1e-9,
            "{out:?}"
        );
        assert!(out.iter().all(|b| (b.1 - 200.0).abs() < 1e-9));
        assert_eq!(out[0].0, 0.0, "the first /64 stays at the start");
    }

    #[test]
    fn a_lone_child_is_drawn_where_it_sits() {
        let out = place(&[(0.75, 0.001)], 1000.0, 20.0, 4.0);
        assert_eq!(out, [(750.0, 20.0)]);
        // At the very end it is pulled back inside.
        let out = place(&[(0.999, 0.001)], 1000.0, 20.0, 4.0);
        assert_eq!(out, [(980.0, 20.0)]);
    }

    #[test]
    fn too_many_children_shrink_evenly_to_fit() {
        let spans: Vec<(f64, f64)> = (0..100).map(|i| (i as f64 / 100.0, 0.0)).collect();
        let out = place(&spans, 500.0, 50.0, 1.0);
        let end = out.last().map(|b| b.0 + b.1).unwrap();
        assert!(end <= 500.0 + 1e-6, "{end}");
        assert!(out.iter().all(|b| b.1 > 3.0), "{out:?}");
    }
}
