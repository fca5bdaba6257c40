//! Accounts: anonymous join, optional password, login.

mod names;
pub mod routes;
pub mod store;

pub use routes::config;
