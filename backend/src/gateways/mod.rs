//! Gateways: one per project, each with a secret that authenticates the data plane.

pub mod cache;
pub mod routes;
pub mod store;

pub use cache::{GatewayAuth, GatewayCache};
pub use routes::config;
