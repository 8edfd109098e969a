//! Address math for sixfold: pure, deterministic, no I/O. Randomness and clocks come in as
//! arguments so every function can be tested exhaustively.
//!
//! Module ownership: `pods` is the node agent's pod-address pool; the rest is VPC/cluster math.
pub mod pods;
