//! The EC2 Query protocol's request side: a form body (`Action=...&Version=...&Filter.1.Name=...`)
//! turned into typed accessors for flattened lists (`Name.N`) and structures (`Name.N.Field`).

use std::collections::BTreeMap;

use region::ec2::Ec2Error;
use region::ec2::model::{Filter, Tags};

/// The decoded parameters of one request.
#[derive(Debug, Clone, Default)]
pub struct Params {
    map: BTreeMap<String, String>,
}

impl Params {
    /// The parameters of a form-urlencoded text (a POST body or a GET query string); a repeated name keeps its last value.
    pub fn parse(body: &[u8]) -> Self {
        Self {
            map: form_urlencoded::parse(body).into_owned().collect(),
        }
    }

    /// The parameters of a Query-protocol request: the query string of a GET, else the form body.
    pub fn from_request(method: &axum::http::Method, query: &str, body: &[u8]) -> Self {
        if method == axum::http::Method::GET {
            Self::parse(query.as_bytes())
        } else {
            Self::parse(body)
        }
    }

    /// Every (name, value) pair, in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.map.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The value of parameter `name`, if the request has it.
    pub fn get(&self, name: &str) -> Option<String> {
        self.map.get(name).cloned()
    }

    /// Parameter `name` as a boolean (`true`/`false`, any case); `None` when absent, an `InvalidParameterValue` naming the parameter for anything else.
    pub fn bool(&self, name: &'static str) -> Result<Option<bool>, Ec2Error> {
        match self.map.get(name).map(|s| s.to_ascii_lowercase()) {
            None => Ok(None),
            Some(s) if s == "true" => Ok(Some(true)),
            Some(s) if s == "false" => Ok(Some(false)),
            Some(s) => Err(Ec2Error::invalid(name, s, "Use true or false.")),
        }
    }

    /// Parameter `name` parsed as a number; `None` when absent, an `InvalidParameterValue` naming the parameter when it is not one.
    pub fn int<T: std::str::FromStr>(&self, name: &'static str) -> Result<Option<T>, Ec2Error> {
        match self.map.get(name) {
            None => Ok(None),
            Some(s) => s
                .parse()
                .map(Some)
                .map_err(|_| Ec2Error::invalid(name, s.clone(), "Give a whole number.")),
        }
    }

    /// Values of a flattened list `Prefix.1`, `Prefix.2`, ... in index order.
    pub fn list(&self, prefix: &str) -> Vec<String> {
        let mut items: Vec<(u32, String)> = self
            .map
            .iter()
            .filter_map(|(k, v)| {
                let rest = k.strip_prefix(prefix)?.strip_prefix('.')?;
                rest.parse::<u32>().ok().map(|i| (i, v.clone()))
            })
            .collect();
        items.sort_by_key(|(i, _)| *i);
        items.into_iter().map(|(_, v)| v).collect()
    }

    /// Members of a flattened list of structures `Prefix.N.Field...`, as sub-parameter sets.
    pub fn structs(&self, prefix: &str) -> Vec<Params> {
        let mut by_index: BTreeMap<u32, Params> = BTreeMap::new();
        for (k, v) in &self.map {
            let Some(rest) = k.strip_prefix(prefix).and_then(|r| r.strip_prefix('.')) else {
                continue;
            };
            let Some((idx, field)) = rest.split_once('.') else {
                continue;
            };
            let Ok(i) = idx.parse::<u32>() else { continue };
            by_index
                .entry(i)
                .or_default()
                .map
                .insert(field.to_string(), v.clone());
        }
        by_index.into_values().collect()
    }

    /// `Filter.N.Name` + `Filter.N.Value.M`.
    pub fn filters(&self) -> Vec<Filter> {
        self.structs("Filter")
            .into_iter()
            .map(|p| Filter {
                name: p.get("Name").unwrap_or_default(),
                values: p.list("Value"),
            })
            .collect()
    }

    /// Tags for `resource_type` from `TagSpecification.N`.
    pub fn tag_specs(&self, resource_type: &str) -> Tags {
        let mut tags = Tags::new();
        for spec in self.structs("TagSpecification") {
            if spec.get("ResourceType").as_deref() == Some(resource_type) {
                tags.extend(spec.tags("Tag"));
            }
        }
        tags
    }

    /// `Prefix.N.Key` / `Prefix.N.Value`.
    pub fn tags(&self, prefix: &str) -> Tags {
        self.structs(prefix)
            .into_iter()
            .filter_map(|t| Some((t.get("Key")?, t.get("Value").unwrap_or_default())))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flattened_lists_and_structures_decode_in_index_order() {
        let p = Params::parse(b"Action=X&Filter.2.Name=vpc-id&Filter.2.Value.1=vpc-2&Filter.1.Name=tag%3AName&Filter.1.Value.2=b&Filter.1.Value.1=a&InstanceId.10=i-10&InstanceId.2=i-2");
        let f = p.filters();
        assert_eq!(
            f[0],
            Filter {
                name: "tag:Name".into(),
                values: vec!["a".into(), "b".into()]
            }
        );
        assert_eq!(
            f[1],
            Filter {
                name: "vpc-id".into(),
                values: vec!["vpc-2".into()]
            }
        );
        assert_eq!(
            p.list("InstanceId"),
            vec!["i-2".to_string(), "i-10".to_string()]
        );
    }

    #[test]
    fn tag_specifications_pick_the_resource_type() {
        let p = Params::parse(b"TagSpecification.1.ResourceType=vpc&TagSpecification.1.Tag.1.Key=Name&TagSpecification.1.Tag.1.Value=lab&TagSpecification.2.ResourceType=subnet&TagSpecification.2.Tag.1.Key=x&TagSpecification.2.Tag.1.Value=y");
        assert_eq!(
            p.tag_specs("vpc").get("Name").map(String::as_str),
            Some("lab")
        );
        assert!(!p.tag_specs("vpc").contains_key("x"));
    }

    #[test]
    fn bad_booleans_and_numbers_are_named() {
        let p = Params::parse(b"DryRun=maybe&MaxCount=lots");
        assert!(p.bool("DryRun").unwrap_err().to_string().contains("maybe"));
        assert!(
            p.int::<u32>("MaxCount")
                .unwrap_err()
                .to_string()
                .contains("lots")
        );
    }
}
