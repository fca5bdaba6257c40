//! `/auth/*`: join, login, logout, password, me.

use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{names, store};
use crate::{
    auth::{password, sessions::IssuedToken, CurrentSession, CurrentUser, LoginThrottle, Passwords, Sessions},
    db::Db,
    error::ApiError,
    ids::UserId,
};

pub fn config(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/auth")
            .route("/join", web::post().to(join))
            .route("/login", web::post().to(login))
            .route("/logout", web::post().to(logout))
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

impl Session {
    fn new(id: UserId, username: String, issued: IssuedToken) -> Self {
        Session { id, username, token: issued.token, expires_at: issued.expires_at }
    }
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

/// The account after a password change, and the token of the one session it now has.
#[derive(Serialize, ToSchema)]
pub struct PasswordChanged {
    #[serde(flatten)]
    pub me: Me,
    /// Replaces the token the change was made with: every earlier session has ended.
    pub token: String,
    pub expires_at: DateTime<Utc>,
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

/// Creates an anonymous account with a generated username.
#[utoipa::path(post, path = "/auth/join", tag = "auth",
    description = "At most JOINS_PER_MINUTE (20) new accounts per client address a minute; beyond, 429 \
        `too_many_attempts` with `Retry-After`.",
    responses((status = 201, body = Session), (status = 429, description = "too_many_attempts")))]
pub async fn join(
    req: HttpRequest,
    sessions: web::Data<Sessions>,
    throttle: web::Data<LoginThrottle>,
) -> Result<HttpResponse, ApiError> {
    throttle.join_from(&req)?;
    let id = UserId::new();
    let (row, issued) = sessions
        .start_with(id, move |conn| {
            // Unnumbered names are nicer; after a few collisions numbered ones are all but certain to be free.
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
    Ok(HttpResponse::Created().json(Session::new(id, row.username, issued)))
}

/// Signs in with a password. Attempts are limited per client address and per username.
#[utoipa::path(post, path = "/auth/login", tag = "auth", request_body = LoginRequest,
    description = "At most 30 attempts per client address per minute, and 10 unsuccessful ones per username per \
        15 minutes (a successful sign-in starts that count again); beyond either, 429 `too_many_attempts` with \
        `Retry-After`. 429 `busy` (also with `Retry-After`) when the server is checking too many passwords at once.",
    responses((status = 200, body = Session), (status = 401, description = "invalid_credentials"),
        (status = 429, description = "too_many_attempts or busy; see Retry-After")))]
pub async fn login(
    req: HttpRequest,
    db: web::Data<Db>,
    sessions: web::Data<Sessions>,
    passwords: web::Data<Passwords>,
    throttle: web::Data<LoginThrottle>,
    body: web::Json<LoginRequest>,
) -> Result<web::Json<Session>, ApiError> {
    throttle.attempt_from(&req)?;
    let LoginRequest { username, password } = body.into_inner();
    let username = username.trim().to_owned();
    throttle.attempt_on(&username)?;
    let user = match check_credentials(&db, &passwords, username.clone(), password).await {
        Ok(user) => user,
        Err(ApiError::InvalidCredentials) => return Err(ApiError::InvalidCredentials),
        Err(other) => {
            throttle.unchecked(&username);
            return Err(other);
        }
    };
    throttle.succeeded(&username);
    let id = user.id.parse().map_err(|_| anyhow::anyhow!("corrupt user id"))?;
    let issued = sessions.start(id).await?;
    Ok(web::Json(Session::new(id, user.username, issued)))
}

/// The account these credentials open. The database connection is given back before
/// the password is checked, which may wait for a hashing slot.
async fn check_credentials(
    db: &Db,
    passwords: &Passwords,
    username: String,
    password: String,
) -> Result<store::UserRow, ApiError> {
    let row = db.run(move |conn| store::find_by_username(conn, &username)).await?;
    // Unknown usernames and accounts without a password are checked against a dummy
    // hash, so they take as long as wrong passwords.
    let stored = row.as_ref().and_then(|row| row.password_hash.clone());
    let verified = passwords.verify(password, stored).await?;
    row.filter(|_| verified).ok_or(ApiError::InvalidCredentials)
}

/// Ends the session of the token it is called with.
#[utoipa::path(post, path = "/auth/logout", tag = "auth",
    description = "Ends the session of the calling token: from now on it answers 401 everywhere. Other sessions go on.",
    responses((status = 204, description = "Signed out"), (status = 401)), security(("user_jwt" = [])))]
pub async fn logout(sessions: web::Data<Sessions>, caller: CurrentSession) -> Result<HttpResponse, ApiError> {
    sessions.end(caller.session).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Sets or changes the caller's password, so an anonymous account can sign in again elsewhere.
#[utoipa::path(put, path = "/auth/password", tag = "auth", request_body = PasswordRequest,
    description = "Ends every session of the account, the calling one included, and answers with the token of a \
        new one: the caller goes on with that token. Wrong `current_password`s count towards the username's \
        sign-in limit.",
    responses((status = 200, body = PasswordChanged), (status = 400, description = "weak_password or invalid_current_password"),
        (status = 429, description = "too_many_attempts or busy; see Retry-After")),
    security(("user_jwt" = [])))]
pub async fn set_password(
    db: web::Data<Db>,
    sessions: web::Data<Sessions>,
    passwords: web::Data<Passwords>,
    throttle: web::Data<LoginThrottle>,
    user: CurrentUser,
    body: web::Json<PasswordRequest>,
) -> Result<web::Json<PasswordChanged>, ApiError> {
    let PasswordRequest { new_password, current_password } = body.into_inner();
    let length = new_password.chars().count();
    if !(password::MIN_LENGTH..=password::MAX_LENGTH).contains(&length) {
        return Err(ApiError::invalid(
            "weak_password",
            format!("password must be {} to {} characters long", password::MIN_LENGTH, password::MAX_LENGTH),
        ));
    }
    let id = user.0;
    let row = db.run(move |conn| store::find(conn, id)).await.map_err(account_gone)?;
    if let Some(existing) = row.password_hash {
        let wrong = || ApiError::invalid("invalid_current_password", "current_password is missing or wrong");
        let current = current_password.ok_or_else(wrong)?;
        throttle.attempt_on(&row.username)?;
        match passwords.verify(current, Some(existing)).await {
            Ok(true) => throttle.succeeded(&row.username),
            Ok(false) => return Err(wrong()),
            Err(e) => {
                throttle.unchecked(&row.username);
                return Err(e);
            }
        }
    }
    let hash = passwords.hash(new_password).await?;
    let (row, issued) = sessions.renew_with(id, move |conn| store::set_password_hash(conn, id, &hash)).await?;
    Ok(web::Json(PasswordChanged { me: row.into(), token: issued.token, expires_at: issued.expires_at }))
}

#[utoipa::path(get, path = "/auth/me", tag = "auth", responses((status = 200, body = Me)), security(("user_jwt" = [])))]
pub async fn me(db: web::Data<Db>, user: CurrentUser) -> Result<web::Json<Me>, ApiError> {
    let id = user.0;
    let row = db.run(move |conn| store::find(conn, id)).await.map_err(account_gone)?;
    Ok(web::Json(row.into()))
}

/// A valid session for an account that no longer exists is not a session.
fn account_gone(e: crate::db::DbError) -> ApiError {
    match ApiError::from(e) {
        ApiError::NotFound => ApiError::Unauthorized,
        other => other,
    }
}
