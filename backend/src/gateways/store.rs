//! Reads and writes of the `gateways` table. Every read for a user is scoped to that
//! user, so another user's gateway is indistinguishable from a missing one.

use chrono::{NaiveDateTime, Utc};
use diesel::prelude::*;

use crate::{
    auth::secrets::SecretHash,
    db::{schema::gateways, DbConn},
    ids::{GatewayId, UserId},
};

#[derive(Queryable, Selectable, Debug, Clone)]
#[diesel(table_name = gateways)]
pub struct GatewayRow {
    pub id: String,
    pub user_id: String,
    pub name: String,
    pub secret_hash: String,
    pub secret_hint: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// The fallback chains, as JSON (see `Fallbacks`).
    pub fallbacks: String,
    /// The rate limits and budgets, as JSON (see `Limits`).
    pub limits: String,
    /// The CIDRs calls may come from, as a JSON array; `[]` is any.
    pub allowed_ips: String,
}

impl GatewayRow {
    /// The CIDRs calls may come from; empty is any.
    pub fn allowed_ips(&self) -> Vec<ipnet::IpNet> {
        serde_json::from_str(&self.allowed_ips).unwrap_or_default()
    }
}

#[derive(Insertable)]
#[diesel(table_name = gateways)]
pub struct NewGateway<'a> {
    pub id: String,
    pub user_id: String,
    pub name: &'a str,
    pub secret_hash: String,
    pub secret_hint: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub limits: String,
}

fn owned_by(user: UserId) -> gateways::BoxedQuery<'static, crate::db::MultiBackend> {
    gateways::table.filter(gateways::user_id.eq(user.to_string())).into_boxed()
}

pub fn insert(
    conn: &mut DbConn,
    user: UserId,
    id: GatewayId,
    name: &str,
    hash: SecretHash,
    hint: String,
    limits: String,
) -> QueryResult<GatewayRow> {
    let now = Utc::now().naive_utc();
    diesel::insert_into(gateways::table)
        .values(NewGateway {
            id: id.to_string(),
            user_id: user.to_string(),
            name,
            secret_hash: hash.to_hex(),
            secret_hint: hint,
            created_at: now,
            updated_at: now,
            limits,
        })
        .execute(conn)?;
    get(conn, user, id)
}

pub fn count(conn: &mut DbConn, user: UserId) -> QueryResult<i64> {
    owned_by(user).count().get_result(conn)
}

pub fn list(conn: &mut DbConn, user: UserId) -> QueryResult<Vec<GatewayRow>> {
    owned_by(user).order((gateways::created_at.desc(), gateways::id.desc())).select(GatewayRow::as_select()).load(conn)
}

pub fn get(conn: &mut DbConn, user: UserId, id: GatewayId) -> QueryResult<GatewayRow> {
    owned_by(user).filter(gateways::id.eq(id.to_string())).select(GatewayRow::as_select()).first(conn)
}

/// What a `PATCH` changes: any of the name and the fallback chains (as stored).
#[derive(AsChangeset)]
#[diesel(table_name = gateways)]
pub struct GatewayChanges {
    pub name: Option<String>,
    pub fallbacks: Option<String>,
    pub limits: Option<String>,
    pub allowed_ips: Option<String>,
    pub updated_at: NaiveDateTime,
}

pub fn update(conn: &mut DbConn, user: UserId, id: GatewayId, changes: GatewayChanges) -> QueryResult<GatewayRow> {
    let changed = diesel::update(
        gateways::table.filter(gateways::id.eq(id.to_string())).filter(gateways::user_id.eq(user.to_string())),
    )
    .set(&changes)
    .execute(conn)?;
    if changed == 0 {
        return Err(diesel::result::Error::NotFound);
    }
    get(conn, user, id)
}

pub fn set_secret(conn: &mut DbConn, user: UserId, id: GatewayId, hash: SecretHash, hint: &str) -> QueryResult<()> {
    let changed = diesel::update(
        gateways::table.filter(gateways::id.eq(id.to_string())).filter(gateways::user_id.eq(user.to_string())),
    )
    .set((
        gateways::secret_hash.eq(hash.to_hex()),
        gateways::secret_hint.eq(hint),
        gateways::updated_at.eq(Utc::now().naive_utc()),
    ))
    .execute(conn)?;
    if changed == 0 {
        return Err(diesel::result::Error::NotFound);
    }
    Ok(())
}

pub fn delete(conn: &mut DbConn, user: UserId, id: GatewayId) -> QueryResult<()> {
    let deleted = diesel::delete(
        gateways::table.filter(gateways::id.eq(id.to_string())).filter(gateways::user_id.eq(user.to_string())),
    )
    .execute(conn)?;
    if deleted == 0 {
        return Err(diesel::result::Error::NotFound);
    }
    Ok(())
}

/// The data plane's lookups (whoever owns the gateway).
pub fn find_by_secret_hash(conn: &mut DbConn, hash: SecretHash) -> QueryResult<Option<GatewayRow>> {
    gateways::table
        .filter(gateways::secret_hash.eq(hash.to_hex()))
        .select(GatewayRow::as_select())
        .first(conn)
        .optional()
}

pub fn find_by_id(conn: &mut DbConn, id: GatewayId) -> QueryResult<Option<GatewayRow>> {
    gateways::table.find(id.to_string()).select(GatewayRow::as_select()).first(conn).optional()
}
