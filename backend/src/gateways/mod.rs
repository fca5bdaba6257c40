//! Gateways: one per project, each with a secret that authenticates the data plane.

pub mod cache;
pub mod fallbacks;
pub mod notices;
pub mod provider_keys;
pub mod routes;
pub mod store;

pub use cache::{GatewayAuth, GatewayCache};
pub use fallbacks::Fallbacks;
pub use routes::config;
