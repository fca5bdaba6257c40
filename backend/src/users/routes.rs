//! `/auth/*`: join, login, password, me.

use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{names, store};
use crate::{
    auth::{password, CurrentUser, JwtKeys},
    db::Db,
    error::ApiError,
    ids::UserId,
};

pub fn config(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/auth")
            .route("/join", web::post().to(join))
            .route("/login", web::post().to(login))
            .route("/password", web::put().to(set_password))
            .route("/me", web::get().to(me)),
    );
}

#[derive(Serialize, ToSchema)]
pub struct Session {
    pub id: UserId,
    pub username: String,
    /// User JWT for `Authorization: Bearer` on the control plane.
    pub token: String,
    pub expires_at: DateTime<Utc>,
}

#[derive(Serialize, ToSchema)]
pub struct Me {
    pub id: UserId,
    pub username: String,
    pub created_at: DateTime<Utc>,
    pub has_password: bool,
}

impl From<store::UserRow> for Me {
    fn from(row: store::UserRow) -> Self {
        Me {
            id: row.id.parse().unwrap_or_default(),
            username: row.username,
            created_at: row.created_at.and_utc(),
            has_password: row.password_hash.is_some(),
        }
    }
}

#[derive(Deserialize, ToSchema)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
}

#[derive(Deserialize, ToSchema)]
pub struct PasswordRequest {
    pub new_password: String,
    /// Required when the account already has a password.
    pub current_password: Option<String>,
}

fn session(keys: &JwtKeys, id: UserId, username: String) -> Result<Session, ApiError> {
    let (token, expires_at) = keys.issue(id)?;
    Ok(Session { id, username, token, expires_at })
}

/// Creates an anonymous account with a generated username.
#[utoipa::path(post, path = "/auth/join", tag = "auth", responses((status = 201, body = Session)))]
pub async fn join(db: web::Data<Db>, keys: web::Data<JwtKeys>) -> Result<HttpResponse, ApiError> {
    let id = UserId::new();
    let row = db
        .run(move |conn| {
            // Unnumbered names are nicer but run out; fall back to numbered ones on collision.
            let mut attempt = 0;
            loop {
                match store::insert(conn, id, &names::generate(attempt >= 3)) {
                    Err(diesel::result::Error::DatabaseError(
                        diesel::result::DatabaseErrorKind::UniqueViolation,
                        _,
                    )) if attempt < 10 => attempt += 1,
                    other => return other,
                }
            }
        })
        .await?;
    Ok(HttpResponse::Created().json(session(&keys, id, row.username)?))
}

#[utoipa::path(post, path = "/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = Session), (status = 401, description = "invalid_credentials")))]
pub async fn login(
    db: web::Data<Db>,
    keys: web::Data<JwtKeys>,
    body: web::Json<LoginRequest>,
) -> Result<HttpResponse, ApiError> {
    let LoginRequest { username, password } = body.into_inner();
    let user = db
        .run(move |conn| {
            let row = store::find_by_username(conn, username.trim())?;
            Ok(match row {
                Some(row) if row.password_hash.as_deref().is_some_and(|h| password::verify(&password, h)) => Some(row),
                Some(_) => None,
                None => {
                    password::dummy_verify(&password);
                    None
                }
            })
        })
        .await?
        .ok_or(ApiError::InvalidCredentials)?;
    let id = user.id.parse().map_err(|_| anyhow::anyhow!("corrupt user id"))?;
    Ok(HttpResponse::Ok().json(session(&keys, id, user.username)?))
}

/// Sets or changes the caller's password, so an anonymous account can sign in again elsewhere.
#[utoipa::path(put, path = "/auth/password", tag = "auth", request_body = PasswordRequest,
    responses((status = 200, body = Me), (status = 400, description = "weak_password or invalid_current_password")),
    security(("user_jwt" = [])))]
pub async fn set_password(
    db: web::Data<Db>,
    user: CurrentUser,
    body: web::Json<PasswordRequest>,
) -> Result<HttpResponse, ApiError> {
    let PasswordRequest { new_password, current_password } = body.into_inner();
    let length = new_password.chars().count();
    if !(password::MIN_LENGTH..=password::MAX_LENGTH).contains(&length) {
        return Err(ApiError::invalid(
            "weak_password",
            format!("password must be {} to {} characters long", password::MIN_LENGTH, password::MAX_LENGTH),
        ));
    }
    let id = user.0;
    let row = db
        .run(move |conn| {
            let row = store::find(conn, id)?;
            if let Some(existing) = &row.password_hash {
                if !current_password.as_deref().is_some_and(|c| password::verify(c, existing)) {
                    return Ok(Err(ApiError::invalid(
                        "invalid_current_password",
                        "current_password is missing or wrong",
                    )));
                }
            }
            let hash = match password::hash(&new_password) {
                Ok(hash) => hash,
                Err(e) => return Ok(Err(e.into())),
            };
            store::set_password_hash(conn, id, &hash).map(Ok)
        })
        .await??;
    Ok(HttpResponse::Ok().json(Me::from(row)))
}

#[utoipa::path(get, path = "/auth/me", tag = "auth", responses((status = 200, body = Me)), security(("user_jwt" = [])))]
pub async fn me(db: web::Data<Db>, user: CurrentUser) -> Result<web::Json<Me>, ApiError> {
    let id = user.0;
    let row = db.run(move |conn| store::find(conn, id)).await.map_err(|e| match ApiError::from(e) {
        // A valid token for an account that no longer exists is not a session.
        ApiError::NotFound => ApiError::Unauthorized,
        other => other,
    })?;
    Ok(web::Json(row.into()))
}
