//! addressing (placeholder, being written).
