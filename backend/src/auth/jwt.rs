//! HS256 user tokens. A token names its user and its session; the session decides
//! whether it is still valid (see `sessions`).

use actix_web::HttpRequest;
use chrono::{DateTime, Utc};
use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::{
    error::ApiError,
    ids::{SessionId, UserId},
};

const ISSUER: &str = "tollgate";

#[derive(Serialize, Deserialize)]
struct Claims {
    sub: UserId,
    sid: SessionId,
    iat: i64,
    exp: i64,
    iss: String,
}

/// What a valid signature vouches for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TokenClaims {
    pub user: UserId,
    pub session: SessionId,
}

pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl JwtKeys {
    pub fn new(secret: &[u8]) -> Self {
        // Only HS256 is accepted: `alg: none` and algorithm-confusion tokens fail validation.
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_required_spec_claims(&["exp", "sub", "iss"]);
        validation.leeway = 0;
        Self { encoding: EncodingKey::from_secret(secret), decoding: DecodingKey::from_secret(secret), validation }
    }

    pub fn issue(&self, claims: TokenClaims, expires_at: DateTime<Utc>) -> anyhow::Result<String> {
        let claims = Claims {
            sub: claims.user,
            sid: claims.session,
            iat: Utc::now().timestamp(),
            exp: expires_at.timestamp(),
            iss: ISSUER.into(),
        };
        Ok(encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)?)
    }

    /// The claims of a well-signed, unexpired token (one without a session id is not one of ours).
    pub fn verify(&self, token: &str) -> Result<TokenClaims, ApiError> {
        decode::<Claims>(token, &self.decoding, &self.validation)
            .map(|data| TokenClaims { user: data.claims.sub, session: data.claims.sid })
            .map_err(|_| ApiError::Unauthorized)
    }
}

pub fn bearer_token(req: &HttpRequest) -> Option<&str> {
    let value = req.headers().get(actix_web::http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim()).filter(|t| !t.is_empty())
}
