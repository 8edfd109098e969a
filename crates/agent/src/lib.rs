//! agent (placeholder, being written).
