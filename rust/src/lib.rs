//! The native core of Lore.
//!
//! Pure-Rust modules do the work and are tested with `cargo test`; `python` holds the pyo3
//! bindings, compiled only with the `python` feature (maturin turns it on).

pub mod cache;
pub mod chunk;
pub mod embed;
pub mod fsread;
pub mod hash;
pub mod links;
pub mod prepare;
pub mod queue;
pub mod terms;
pub mod text;
pub mod walk;

#[cfg(feature = "python")]
mod python;
