//! Pod addresses from a node /80, with cooldown (being written).
