//! A small, strict-enough XML reader for EC2 Query replies: elements, text, CDATA and the
//! predefined and numeric entities. Namespaces are dropped (only local names are kept),
//! attributes are ignored, and the prolog, comments and DOCTYPE are skipped. Nesting is bounded
//! so hostile input cannot exhaust memory through depth.

use std::fmt;

/// Deepest element nesting accepted (EC2 replies nest about 8 deep).
const MAX_DEPTH: usize = 128;

/// An element: its local name, child elements in order, and its concatenated text.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Element {
    /// The local name (`DescribeNetworkInterfacesResponse`, `item`, ...), without a prefix.
    pub name: String,
    /// Child elements, in document order.
    pub children: Vec<Element>,
    /// The element's own character data (entities decoded), not trimmed.
    pub text: String,
}

/// Why a document could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("malformed XML at byte {offset}: {detail}")]
pub struct XmlError {
    /// Byte offset of the problem.
    pub offset: usize,
    /// What was wrong.
    pub detail: String,
}

impl Element {
    /// The first child named `name`.
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    /// The trimmed text of the first child named `name`, if it exists and is not empty.
    pub fn child_text(&self, name: &str) -> Option<&str> {
        self.child(name)
            .map(|c| c.text.trim())
            .filter(|t| !t.is_empty())
    }

    /// The `<item>` children of the child list `name` (EC2's list encoding); empty when absent.
    pub fn items<'s>(&'s self, name: &str) -> impl Iterator<Item = &'s Element> + 's {
        self.child(name)
            .into_iter()
            .flat_map(|list| list.children.iter().filter(|c| c.name == "item"))
    }
}

impl fmt::Display for Element {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{}>", self.name)
    }
}

/// Parses a whole document and returns its root element.
pub fn parse(doc: &str) -> Result<Element, XmlError> {
    let b = doc.as_bytes();
    let err = |offset: usize, detail: &str| XmlError {
        offset,
        detail: detail.to_owned(),
    };
    // stack[0] is a sentinel holding the root once it closes.
    let mut stack: Vec<Element> = vec![Element::default()];
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'<' {
            let end = doc[i..].find('<').map_or(b.len(), |p| i + p);
            let text = &doc[i..end];
            if stack.len() == 1 {
                if !text.trim().is_empty() {
                    return Err(err(i, "text outside the root element"));
                }
            } else {
                let top = stack.last_mut().ok_or_else(|| err(i, "internal stack"))?;
                decode_entities(text, i, &mut top.text)?;
            }
            i = end;
            continue;
        }
        let rest = &doc[i..];
        if rest.starts_with("<?") {
            i += find(rest, "?>").ok_or_else(|| err(i, "unterminated <?...?>"))? + 2;
        } else if rest.starts_with("<!--") {
            i += find(rest, "-->").ok_or_else(|| err(i, "unterminated comment"))? + 3;
        } else if let Some(cdata) = rest.strip_prefix("<![CDATA[") {
            let end = find(cdata, "]]>").ok_or_else(|| err(i, "unterminated CDATA"))?;
            if stack.len() == 1 {
                return Err(err(i, "CDATA outside the root element"));
            }
            if let Some(top) = stack.last_mut() {
                top.text.push_str(&cdata[..end]);
            }
            i += "<![CDATA[".len() + end + 3;
        } else if rest.starts_with("<!") {
            i += find(rest, ">").ok_or_else(|| err(i, "unterminated declaration"))? + 1;
        } else if let Some(close) = rest.strip_prefix("</") {
            let end = find(close, ">").ok_or_else(|| err(i, "unterminated end tag"))?;
            let name = local_name(close[..end].trim());
            if stack.len() < 2 {
                return Err(err(i, &format!("end tag </{name}> without a start tag")));
            }
            let done = stack.pop().ok_or_else(|| err(i, "internal stack"))?;
            if done.name != name {
                return Err(err(
                    i,
                    &format!("end tag </{name}> does not close <{}>", done.name),
                ));
            }
            attach(&mut stack, done, i)?;
            i += 2 + end + 1;
        } else {
            let end = tag_end(rest).ok_or_else(|| err(i, "unterminated start tag"))?;
            let inner = &rest[1..end];
            let self_closing = inner.ends_with('/');
            let inner = inner.trim_end_matches('/');
            let raw_name = inner
                .split(|c: char| c.is_whitespace())
                .next()
                .unwrap_or_default();
            if raw_name.is_empty() {
                return Err(err(i, "start tag without a name"));
            }
            if stack.len() == 1 && !stack[0].children.is_empty() {
                return Err(err(i, "more than one root element"));
            }
            let el = Element {
                name: local_name(raw_name).to_owned(),
                ..Element::default()
            };
            if self_closing {
                attach(&mut stack, el, i)?;
            } else {
                if stack.len() > MAX_DEPTH {
                    return Err(err(i, "elements nested too deeply"));
                }
                stack.push(el);
            }
            i += end + 1;
        }
    }
    if stack.len() != 1 {
        let open = stack.last().map(|e| e.name.clone()).unwrap_or_default();
        return Err(err(b.len(), &format!("document ends inside <{open}>")));
    }
    stack
        .pop()
        .and_then(|mut s| s.children.pop())
        .ok_or_else(|| err(0, "no root element"))
}

fn attach(stack: &mut [Element], el: Element, at: usize) -> Result<(), XmlError> {
    match stack.last_mut() {
        Some(parent) => {
            parent.children.push(el);
            Ok(())
        }
        None => Err(XmlError {
            offset: at,
            detail: "internal stack".to_owned(),
        }),
    }
}

fn find(hay: &str, needle: &str) -> Option<usize> {
    hay.find(needle)
}

/// Index of the `>` closing a start tag, skipping quoted attribute values.
fn tag_end(s: &str) -> Option<usize> {
    let mut quote: Option<u8> = None;
    for (i, &c) in s.as_bytes().iter().enumerate() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == b'"' || c == b'\'' => quote = Some(c),
            None if c == b'>' => return Some(i),
            None => {}
        }
    }
    None
}

fn local_name(name: &str) -> &str {
    name.rsplit_once(':').map_or(name, |(_, local)| local)
}

fn decode_entities(text: &str, offset: usize, out: &mut String) -> Result<(), XmlError> {
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        let semi = after
            .find(';')
            .filter(|s| *s <= 10)
            .ok_or_else(|| XmlError {
                offset,
                detail: format!("unterminated entity near {:?}", truncate(&rest[amp..])),
            })?;
        let entity = &after[..semi];
        let ch = match entity {
            "lt" => Some('<'),
            "gt" => Some('>'),
            "amp" => Some('&'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => entity
                .strip_prefix("#x")
                .or_else(|| entity.strip_prefix("#X"))
                .map(|h| u32::from_str_radix(h, 16))
                .or_else(|| entity.strip_prefix('#').map(str::parse::<u32>))
                .and_then(Result::ok)
                .and_then(char::from_u32),
        };
        let ch = ch.ok_or_else(|| XmlError {
            offset,
            detail: format!("unknown entity &{entity};"),
        })?;
        out.push(ch);
        rest = &after[semi + 1..];
    }
    out.push_str(rest);
    Ok(())
}

fn truncate(s: &str) -> &str {
    match s.char_indices().nth(12) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_nested_elements_text_and_entities() {
        let doc = r#"<?xml version="1.0" encoding="UTF-8"?>
<!-- a comment -->
<ns:Root xmlns:ns="http://ec2.amazonaws.com/doc/2016-11-15/" a='x>y'>
  <requestId>abc</requestId>
  <set><item><v>1 &lt; 2 &amp;&#x41;&#66;</v></item><item><v><![CDATA[<raw>]]></v></item></set>
  <empty/>
</ns:Root>"#;
        let root = parse(doc).unwrap();
        assert_eq!(root.name, "Root");
        assert_eq!(root.child_text("requestId"), Some("abc"));
        let items: Vec<_> = root.items("set").collect();
        assert_eq!(items.len(), 2);
        assert_eq!(items[0].child_text("v"), Some("1 < 2 &AB"));
        assert_eq!(items[1].child_text("v"), Some("<raw>"));
        assert!(root.child("empty").is_some());
        assert_eq!(root.child_text("empty"), None);
        assert_eq!(root.items("missing").count(), 0);
    }

    #[test]
    fn rejects_malformed_documents() {
        for bad in [
            "",
            "<a>",
            "<a></b>",
            "</a>",
            "<a/><b/>",
            "text<a/>",
            "<a>&bogus;</a>",
            "<a>&amp</a>",
            "<a",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} should fail");
        }
    }

    #[test]
    fn rejects_absurd_nesting() {
        let doc = "<a>".repeat(MAX_DEPTH + 5);
        let e = parse(&doc).unwrap_err();
        assert!(e.detail.contains("deeply"), "{e}");
    }
}
