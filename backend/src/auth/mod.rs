//! Who is calling: user JWTs for the control plane, gateway secrets for the data
//! plane, password hashing, and the limits on signing in.

pub mod jwt;
pub mod password;
pub mod secrets;
pub mod throttle;

pub use jwt::{CurrentUser, JwtKeys};
pub use password::Passwords;
pub use throttle::LoginThrottle;
