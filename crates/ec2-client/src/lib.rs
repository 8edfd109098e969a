//! ec2-client (placeholder, being written).
