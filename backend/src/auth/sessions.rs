//! Sessions: every user token names a row in `sessions` and is valid only while that
//! row exists. Signing out deletes the row and changing the password replaces all of
//! the user's rows, so the tokens they issued answer 401 from the next request on.
//!
//! Checks are cached for `CACHE_TTL`. This process forgets a session the moment it
//! ends it; other processes sharing the database notice within `CACHE_TTL`.

use std::{
    sync::atomic::{AtomicU64, Ordering},
    time::{Duration, Instant},
};

use actix_web::{dev::Payload, web, FromRequest, HttpRequest};
use chrono::{DateTime, NaiveDateTime, Utc};
use dashmap::DashMap;
use diesel::prelude::*;
use futures_util::future::LocalBoxFuture;

use super::jwt::{bearer_token, JwtKeys, TokenClaims};
use crate::{
    db::{schema::sessions, Db, DbConn},
    error::ApiError,
    ids::{SessionId, UserId},
};

/// How long a process trusts its cached answer for a session.
const CACHE_TTL: Duration = Duration::from_secs(10);
const CACHE_MAX_ENTRIES: usize = 100_000;

/// A token handed out for a new session.
pub struct IssuedToken {
    pub token: String,
    pub expires_at: DateTime<Utc>,
}

pub struct Sessions {
    db: Db,
    keys: JwtKeys,
    ttl: Duration,
    cache: DashMap<SessionId, Cached>,
    /// Bumped by every ending, so a check that raced with one is not cached.
    generation: AtomicU64,
}

#[derive(Clone, Copy)]
struct Cached {
    /// The user of the live session with this id; `None` when there is none.
    owner: Option<UserId>,
    loaded_at: Instant,
}

impl Sessions {
    pub fn new(db: Db, keys: JwtKeys, ttl: Duration) -> Self {
        Self { db, keys, ttl, cache: DashMap::new(), generation: AtomicU64::new(0) }
    }

    /// Runs `create` (inserting the user, say), then stores a new session for `user` on
    /// the same connection, and signs its token.
    pub async fn start_with<T, F>(&self, user: UserId, create: F) -> Result<(T, IssuedToken), ApiError>
    where
        F: FnOnce(&mut DbConn) -> QueryResult<T> + Send + 'static,
        T: Send + 'static,
    {
        let session = self.prepare(user);
        let stored = session.clone();
        let value = self
            .db
            .run(move |conn| {
                let value = create(conn)?;
                store::insert(conn, &stored)?;
                Ok(value)
            })
            .await?;
        Ok((value, self.sign(&session)?))
    }

    pub async fn start(&self, user: UserId) -> Result<IssuedToken, ApiError> {
        self.start_with(user, |_| Ok(())).await.map(|((), token)| token)
    }

    /// Runs `change` (a new password, say) and replaces every session of `user` with a
    /// single new one, in one transaction: all earlier tokens end, the new one works.
    pub async fn renew_with<T, F>(&self, user: UserId, change: F) -> Result<(T, IssuedToken), ApiError>
    where
        F: FnOnce(&mut DbConn) -> QueryResult<T> + Send + 'static,
        T: Send + 'static,
    {
        let session = self.prepare(user);
        let stored = session.clone();
        let value = self
            .db
            .run(move |conn| {
                conn.transaction(|conn| {
                    let value = change(conn)?;
                    store::delete_for_user(conn, user)?;
                    store::insert(conn, &stored)?;
                    Ok(value)
                })
            })
            .await?;
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.cache.retain(|_, cached| cached.owner != Some(user));
        Ok((value, self.sign(&session)?))
    }

    /// Ends one session: its token answers 401 from now on.
    pub async fn end(&self, id: SessionId) -> Result<(), ApiError> {
        self.db.run(move |conn| store::delete(conn, id)).await?;
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.cache.remove(&id);
        Ok(())
    }

    /// The caller of a request bearing `token`, if it names a live session.
    pub async fn authenticate(&self, token: &str) -> Result<CurrentSession, ApiError> {
        let claims = self.keys.verify(token)?;
        let owner = match self.cached(claims.session) {
            Some(owner) => owner,
            None => {
                let generation = self.generation.load(Ordering::Acquire);
                let id = claims.session;
                let row = self.db.run(move |conn| store::find(conn, id)).await?;
                let owner = row
                    .filter(|row| row.expires_at.and_utc() > Utc::now())
                    .and_then(|row| row.user_id.parse::<UserId>().ok());
                self.remember(id, owner, generation);
                owner
            }
        };
        match owner {
            Some(owner) if owner == claims.user => Ok(CurrentSession { user: claims.user, session: claims.session }),
            _ => Err(ApiError::Unauthorized),
        }
    }

    fn prepare(&self, user: UserId) -> NewSession {
        NewSession { id: SessionId::new(), user, created_at: Utc::now(), expires_at: Utc::now() + self.ttl }
    }

    fn sign(&self, session: &NewSession) -> Result<IssuedToken, ApiError> {
        let claims = TokenClaims { user: session.user, session: session.id };
        let token = self.keys.issue(claims, session.expires_at)?;
        Ok(IssuedToken { token, expires_at: session.expires_at })
    }

    fn cached(&self, id: SessionId) -> Option<Option<UserId>> {
        let entry = self.cache.get(&id)?;
        (entry.loaded_at.elapsed() < CACHE_TTL).then_some(entry.owner)
    }

    /// Caches a check unless a session ended since it began. The generation is read under
    /// the entry's lock, and endings bump it before they touch the cache, so a stale
    /// answer is either refused here or removed by the ending.
    fn remember(&self, id: SessionId, owner: Option<UserId>, generation: u64) {
        if self.cache.len() >= CACHE_MAX_ENTRIES {
            self.cache.retain(|_, entry| entry.loaded_at.elapsed() < CACHE_TTL);
            if self.cache.len() >= CACHE_MAX_ENTRIES {
                self.cache.clear();
            }
        }
        let entry = self.cache.entry(id);
        if self.generation.load(Ordering::Acquire) == generation {
            entry.insert(Cached { owner, loaded_at: Instant::now() });
        }
    }
}

/// A session about to be stored.
#[derive(Clone)]
struct NewSession {
    id: SessionId,
    user: UserId,
    created_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
}

/// Reads and writes of the `sessions` table.
mod store {
    use super::*;

    #[derive(Queryable, Selectable)]
    #[diesel(table_name = sessions)]
    pub struct SessionRow {
        pub user_id: String,
        pub expires_at: NaiveDateTime,
    }

    #[derive(Insertable)]
    #[diesel(table_name = sessions)]
    struct Row {
        id: String,
        user_id: String,
        created_at: NaiveDateTime,
        expires_at: NaiveDateTime,
    }

    /// Stores a session, and clears out expired ones of anybody's while at it.
    pub fn insert(conn: &mut DbConn, session: &NewSession) -> QueryResult<()> {
        diesel::delete(sessions::table.filter(sessions::expires_at.le(Utc::now().naive_utc()))).execute(conn)?;
        diesel::insert_into(sessions::table)
            .values(Row {
                id: session.id.to_string(),
                user_id: session.user.to_string(),
                created_at: session.created_at.naive_utc(),
                expires_at: session.expires_at.naive_utc(),
            })
            .execute(conn)?;
        Ok(())
    }

    pub fn find(conn: &mut DbConn, id: SessionId) -> QueryResult<Option<SessionRow>> {
        sessions::table.find(id.to_string()).select(SessionRow::as_select()).first(conn).optional()
    }

    pub fn delete(conn: &mut DbConn, id: SessionId) -> QueryResult<usize> {
        diesel::delete(sessions::table.find(id.to_string())).execute(conn)
    }

    pub fn delete_for_user(conn: &mut DbConn, user: UserId) -> QueryResult<usize> {
        diesel::delete(sessions::table.filter(sessions::user_id.eq(user.to_string()))).execute(conn)
    }
}

/// The session a control-plane request is made in, from `Authorization: Bearer <JWT>`.
#[derive(Clone, Copy, Debug)]
pub struct CurrentSession {
    pub user: UserId,
    pub session: SessionId,
}

impl FromRequest for CurrentSession {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let sessions = req.app_data::<web::Data<Sessions>>().cloned();
        let token = bearer_token(req).map(str::to_owned);
        Box::pin(async move {
            let sessions = sessions.ok_or_else(|| anyhow::anyhow!("Sessions missing"))?;
            sessions.authenticate(&token.ok_or(ApiError::Unauthorized)?).await
        })
    }
}

/// The user a control-plane request is made by (in a live session).
pub struct CurrentUser(pub UserId);

impl FromRequest for CurrentUser {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let session = CurrentSession::from_request(req, payload);
        Box::pin(async move { session.await.map(|s| CurrentUser(s.user)) })
    }
}
