//! Who is calling: user tokens and their sessions for the control plane, gateway
//! secrets for the data plane, password hashing, and the limits on signing in.

pub mod client_ip;
pub mod jwt;
pub mod password;
pub mod secrets;
pub mod sessions;
pub mod throttle;

pub use jwt::JwtKeys;
pub use password::Passwords;
pub use sessions::{CurrentSession, CurrentUser, Sessions};
pub use throttle::LoginThrottle;
