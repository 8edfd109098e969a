//! A small XML writer for EC2 Query replies: elements, escaped text, `<item>` lists.

use std::fmt::Display;

/// An XML document being written: elements are appended in order and text is always escaped, so the result is well-formed as long as every `open` has its `close`.
#[derive(Debug, Default)]
pub struct Xml {
    buf: String,
}

/// Append `s` to `out` as XML text: markup characters become entities, a carriage return
/// becomes `&#xD;` (a parser would turn a raw one into a newline), and characters XML 1.0 cannot
/// carry at all (other C0 controls, U+FFFE, U+FFFF) become U+FFFD, so the document stays
/// well-formed whatever the text.
pub fn escape(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '\r' => out.push_str("&#xD;"),
            c if !xml_char(c) => out.push('\u{FFFD}'),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
}

/// Whether XML 1.0 allows `c` in a document (`Char` of the XML 1.0 grammar).
pub fn xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

impl Xml {
    /// An empty document.
    pub fn new() -> Self {
        Self {
            buf: String::with_capacity(1024),
        }
    }

    /// Append `<tag>`; the caller closes it with [`Xml::close`].
    pub fn open(&mut self, tag: &str) -> &mut Self {
        self.buf.push('<');
        self.buf.push_str(tag);
        self.buf.push('>');
        self
    }

    /// Append `</tag>`.
    pub fn close(&mut self, tag: &str) -> &mut Self {
        self.buf.push_str("</");
        self.buf.push_str(tag);
        self.buf.push('>');
        self
    }

    /// `<tag>value</tag>` with the value escaped.
    pub fn leaf(&mut self, tag: &str, value: impl Display) -> &mut Self {
        self.open(tag);
        let s = value.to_string();
        escape(&s, &mut self.buf);
        self.close(tag)
    }

    /// Append `<tag>value</tag>` when `value` is `Some`, nothing when `None`.
    pub fn opt(&mut self, tag: &str, value: Option<impl Display>) -> &mut Self {
        if let Some(v) = value {
            self.leaf(tag, v);
        }
        self
    }

    /// `<tag><item>..</item>...</tag>`, each item written by `f`.
    pub fn items<T>(
        &mut self,
        tag: &str,
        items: impl IntoIterator<Item = T>,
        mut f: impl FnMut(&mut Self, T),
    ) -> &mut Self {
        self.open(tag);
        for i in items {
            self.open("item");
            f(self, i);
            self.close("item");
        }
        self.close(tag)
    }

    /// `<tag><item>v</item>...</tag>` for plain values.
    pub fn values<T: Display>(
        &mut self,
        tag: &str,
        items: impl IntoIterator<Item = T>,
    ) -> &mut Self {
        self.items(tag, items, |x, v| {
            escape(&v.to_string(), &mut x.buf);
        })
    }

    /// Escaped text at the current position (the content of an element opened by the caller).
    pub fn text(&mut self, value: impl Display) -> &mut Self {
        escape(&value.to_string(), &mut self.buf);
        self
    }

    /// Append already-formed XML.
    pub fn raw(&mut self, s: &str) -> &mut Self {
        self.buf.push_str(s);
        self
    }

    /// The document's text.
    pub fn finish(self) -> String {
        self.buf
    }
}

/// Seconds since the epoch as ISO 8601 (`2026-11-30T05:24:08.000Z`).
pub fn iso8601(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.000Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped() {
        let mut x = Xml::new();
        x.leaf("message", "a<b & 'c'");
        assert_eq!(x.finish(), "<message>a&lt;b &amp; &apos;c&apos;</message>");
    }

    #[test]
    fn characters_illegal_in_xml_are_replaced_not_echoed() {
        let mut x = Xml::new();
        x.leaf("message", "DescribeVpcs\u{0}\u{1}\u{1b}\u{FFFE}a\tb\r\n");
        assert_eq!(
            x.finish(),
            "<message>DescribeVpcs\u{FFFD}\u{FFFD}\u{FFFD}\u{FFFD}a\tb&#xD;\n</message>"
        );
    }

    #[test]
    fn iso8601_matches_known_instants() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso8601(1_796_016_248), "2026-11-30T05:24:08.000Z");
        assert_eq!(iso8601(951_782_400), "2000-02-29T00:00:00.000Z");
    }
}
