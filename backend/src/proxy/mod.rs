//! The data plane: `/chat/completions` and `/models`, authenticated by gateway
//! secret from memory, routed through the catalog, relayed to the provider, metered.

mod auth;
mod body;
mod h1;
pub mod keys;
mod mock;
mod peek;
mod record;
mod relay;
mod request;
pub mod routes;
mod sse;
mod timing;
mod translate;
mod upstream;
mod usage;

pub use auth::AuthFailures;
pub use body::BodyMemory;
pub use record::ShutdownFlag;
pub use relay::StreamLimits;
pub use routes::{config, Proxy};
pub use upstream::Upstreams;
