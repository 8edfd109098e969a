//! region-api (placeholder, being written).
