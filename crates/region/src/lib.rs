//! region (placeholder, being written).
