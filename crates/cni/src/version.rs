//! CNI specification versions this crate speaks, and what each allows.
use std::fmt;

/// A supported CNI specification version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CniVersion {
    V0_3_0,
    V0_3_1,
    V0_4_0,
    V1_0_0,
    V1_1_0,
}

/// Every version the plugins accept, oldest first.
pub const SUPPORTED: [CniVersion; 5] = [
    CniVersion::V0_3_0,
    CniVersion::V0_3_1,
    CniVersion::V0_4_0,
    CniVersion::V1_0_0,
    CniVersion::V1_1_0,
];

impl CniVersion {
    /// The newest supported version.
    pub const LATEST: CniVersion = CniVersion::V1_1_0;

    /// Parse `"1.0.0"` and friends; `None` for anything unsupported.
    pub fn parse(s: &str) -> Option<CniVersion> {
        SUPPORTED.into_iter().find(|v| v.as_str() == s)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            CniVersion::V0_3_0 => "0.3.0",
            CniVersion::V0_3_1 => "0.3.1",
            CniVersion::V0_4_0 => "0.4.0",
            CniVersion::V1_0_0 => "1.0.0",
            CniVersion::V1_1_0 => "1.1.0",
        }
    }

    /// Results carry `ips[].version` before 1.0.0.
    pub fn ips_have_version(self) -> bool {
        self < CniVersion::V1_0_0
    }

    /// CHECK exists from 0.4.0 on.
    pub fn has_check(self) -> bool {
        self >= CniVersion::V0_4_0
    }

    /// STATUS and GC exist from 1.1.0 on.
    pub fn has_status_and_gc(self) -> bool {
        self >= CniVersion::V1_1_0
    }

    /// The list of supported versions as strings.
    pub fn supported_strings() -> Vec<&'static str> {
        SUPPORTED.iter().map(|v| v.as_str()).collect()
    }
}

impl fmt::Display for CniVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse_and_order() {
        assert_eq!(CniVersion::parse("0.3.1"), Some(CniVersion::V0_3_1));
        assert_eq!(CniVersion::parse("0.2.0"), None);
        assert!(CniVersion::V0_4_0.ips_have_version());
        assert!(!CniVersion::V1_0_0.ips_have_version());
        assert!(!CniVersion::V0_3_1.has_check());
        assert!(CniVersion::V1_1_0.has_status_and_gc());
        assert_eq!(
            CniVersion::supported_strings(),
            ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"]
        );
    }
}
