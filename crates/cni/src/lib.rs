//! cni (placeholder, being written).
