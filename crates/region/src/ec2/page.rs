//! Pagination of Describe calls: results in a stable order (by id), a page of at most
//! `MaxResults` items, and where more follow the id of the page's last item, from which the next
//! page starts. The wire layer turns that id into an opaque, tamper-evident `NextToken`; a page
//! costs the same however many rows the region holds (rows are read from a range, lazily).

/// Where a page starts and how long it may be.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageRequest {
    /// Start after this id (decoded from the request's `NextToken`).
    pub after: Option<String>,
    /// `MaxResults`; `None`: everything.
    pub max: Option<usize>,
}

/// One page of results.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paged<T> {
    /// The items of this page, in id order.
    pub items: Vec<T>,
    /// The id of the last item when more follow (the next page starts after it).
    pub last: Option<String>,
}

impl PageRequest {
    /// Everything in one page.
    pub fn all() -> Self {
        Self::default()
    }

    /// Take one page from `items` (already in id order and starting after `self.after`); reads
    /// at most `max + 1` of them.
    pub fn cut<T>(&self, items: impl Iterator<Item = T>, id: impl Fn(&T) -> String) -> Paged<T> {
        match self.max {
            None => Paged {
                items: items.collect(),
                last: None,
            },
            Some(max) => {
                let mut items: Vec<T> = items.take(max.saturating_add(1)).collect();
                let last = if items.len() > max {
                    items.truncate(max);
                    items.last().map(&id)
                } else {
                    None
                };
                Paged { items, last }
            }
        }
    }

    /// Whether `id` sorts after the page start.
    pub fn admits(&self, id: &str) -> bool {
        self.after.as_deref().is_none_or(|a| id > a)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_names_its_last_item_only_when_more_follow() {
        let p = PageRequest {
            after: None,
            max: Some(2),
        };
        let got = p.cut(["a", "b", "c"].into_iter(), |s| s.to_string());
        assert_eq!(got.items, vec!["a", "b"]);
        assert_eq!(got.last.as_deref(), Some("b"));
        let got = p.cut(["a", "b"].into_iter(), |s| s.to_string());
        assert_eq!(got.last, None);
    }

    #[test]
    fn a_page_reads_no_more_than_it_needs() {
        let p = PageRequest {
            after: None,
            max: Some(5),
        };
        let mut read = 0;
        let got = p.cut((0..1_000_000).inspect(|_| read += 1), |i: &i32| {
            i.to_string()
        });
        assert_eq!(got.items.len(), 5);
        assert_eq!(read, 6);
    }
}
