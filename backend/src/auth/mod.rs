//! Who is calling: user JWTs for the control plane, gateway secrets for the data
//! plane, and password hashing.

pub mod jwt;
pub mod password;
pub mod secrets;

pub use jwt::{CurrentUser, JwtKeys};
