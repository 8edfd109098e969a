//! `Plan -> String`: one self-contained HTML page. The drawing is inline SVG (`svg`, the
//! cluster's box in `cluster`); the same addresses are repeated as text tables (`text`) so
//! the browser's find and screen readers reach every one, and a small inline script shows the details of whatever is hovered
//! or focused. Nothing is fetched: no fonts, scripts or images from anywhere. In live mode the
//! script also listens to `/events` (server-sent events) and swaps the plan in place.

mod cluster;
mod page;
mod svg;
mod text;

use std::fmt::Write;

use crate::model::Plan;

/// How to render.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Options {
    /// Add the live-update script (`EventSource("/events")`); off for a file.
    pub live: bool,
    /// The plan's revision (live mode: updates after it are asked for).
    pub rev: u64,
}

/// Plans with more pods than this draw each node's pods as one compact shape (hover still names
/// each pod) and list them as plain text, so 100,000 pods stay a lean DOM.
pub const COMPACT_PODS: usize = 2000;

/// The whole page.
pub fn render(plan: &Plan, opts: Options) -> String {
    page(&plan.title, &render_plan(plan), opts)
}

/// The whole page around a plan already rendered with [`render_plan`].
pub fn page(title: &str, plan_html: &str, opts: Options) -> String {
    let mut out = String::with_capacity(plan_html.len() + 8192);
    page::wrap(&mut out, title, plan_html, opts);
    out
}

/// Escape text for HTML (text and attribute values).
pub fn esc_text(s: &str) -> String {
    esc(s)
}

/// The part of the page that changes with the plan (what live updates replace).
pub fn render_plan(plan: &Plan) -> String {
    let mut out = String::with_capacity(64 * 1024);
    text::summary(&mut out, plan);
    svg::drawing(&mut out, plan);
    text::tables(&mut out, plan);
    out
}

/// Escape `s` for HTML text and attribute values.
pub(crate) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// `data-d` (the details panel's lines) and `aria-label` of a focusable element.
pub(crate) fn focus_attrs(out: &mut String, label: &str, lines: &[String]) {
    let _ = write!(
        out,
        r#" tabindex="0" role="group" aria-label="{}" data-d="{}""#,
        esc(label),
        esc(&lines.join("\n"))
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped() {
        assert_eq!(
            esc(r#"<a href="x">&'"#),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
