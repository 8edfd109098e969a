//! dataplane (placeholder, being written).
