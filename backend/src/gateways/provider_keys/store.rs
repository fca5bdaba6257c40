//! Reads and writes of the `provider_keys` table. The control plane's reads are
//! scoped to the gateway's owner; the data plane loads a gateway's keys by its id.

use chrono::{NaiveDateTime, Utc};
use diesel::prelude::*;

use crate::{
    db::{
        schema::{gateways, provider_keys},
        DbConn,
    },
    ids::{GatewayId, ProviderKeyId, UserId},
};

pub const ACTIVE: &str = "active";
pub const INVALID: &str = "invalid";

#[derive(Queryable, Selectable, Insertable, Debug, Clone)]
#[diesel(table_name = provider_keys)]
pub struct ProviderKeyRow {
    pub id: String,
    pub gateway_id: String,
    pub provider: String,
    pub label: String,
    pub key_hint: String,
    pub sealed_key: String,
    pub status: String,
    pub last_used_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
}

/// Whether the user owns the gateway.
fn owns(conn: &mut DbConn, user: UserId, gateway: GatewayId) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        gateways::table.filter(gateways::id.eq(gateway.to_string())).filter(gateways::user_id.eq(user.to_string())),
    ))
    .get_result(conn)
}

/// The gateway's keys, oldest first; `NotFound` when the gateway is not the user's.
pub fn list(conn: &mut DbConn, user: UserId, gateway: GatewayId) -> QueryResult<Vec<ProviderKeyRow>> {
    if !owns(conn, user, gateway)? {
        return Err(diesel::result::Error::NotFound);
    }
    for_gateway(conn, gateway)
}

pub fn for_gateway(conn: &mut DbConn, gateway: GatewayId) -> QueryResult<Vec<ProviderKeyRow>> {
    provider_keys::table
        .filter(provider_keys::gateway_id.eq(gateway.to_string()))
        .order((provider_keys::created_at.asc(), provider_keys::id.asc()))
        .select(ProviderKeyRow::as_select())
        .load(conn)
}

/// Adds the key unless its gateway already holds `most`: whether it was added.
pub fn insert(conn: &mut DbConn, user: UserId, row: &ProviderKeyRow, most: usize) -> QueryResult<bool> {
    let gateway: GatewayId = row.gateway_id.parse().map_err(|_| diesel::result::Error::NotFound)?;
    conn.transaction(|conn| {
        if !owns(conn, user, gateway)? {
            return Err(diesel::result::Error::NotFound);
        }
        let held: i64 =
            provider_keys::table.filter(provider_keys::gateway_id.eq(&row.gateway_id)).count().get_result(conn)?;
        if held as usize >= most {
            return Ok(false);
        }
        diesel::insert_into(provider_keys::table).values(row).execute(conn).map(|_| true)
    })
}

pub fn delete(conn: &mut DbConn, user: UserId, gateway: GatewayId, id: ProviderKeyId) -> QueryResult<()> {
    conn.transaction(|conn| {
        if !owns(conn, user, gateway)? {
            return Err(diesel::result::Error::NotFound);
        }
        let deleted = diesel::delete(
            provider_keys::table
                .filter(provider_keys::id.eq(id.to_string()))
                .filter(provider_keys::gateway_id.eq(gateway.to_string())),
        )
        .execute(conn)?;
        if deleted == 0 {
            return Err(diesel::result::Error::NotFound);
        }
        Ok(())
    })
}

/// Marks a key the provider refused; returns its gateway, if the key still exists.
pub fn mark_invalid(conn: &mut DbConn, id: ProviderKeyId) -> QueryResult<Option<GatewayId>> {
    let gateway =
        provider_keys::table.find(id.to_string()).select(provider_keys::gateway_id).first::<String>(conn).optional()?;
    diesel::update(provider_keys::table.find(id.to_string())).set(provider_keys::status.eq(INVALID)).execute(conn)?;
    Ok(gateway.and_then(|g| g.parse().ok()))
}

/// Records when keys were last used (never moving a time back).
pub fn touch(conn: &mut DbConn, used: &[(ProviderKeyId, NaiveDateTime)]) -> QueryResult<()> {
    conn.transaction(|conn| {
        for (id, at) in used {
            diesel::update(
                provider_keys::table
                    .find(id.to_string())
                    .filter(provider_keys::last_used_at.is_null().or(provider_keys::last_used_at.lt(*at))),
            )
            .set(provider_keys::last_used_at.eq(*at))
            .execute(conn)?;
        }
        Ok(())
    })
}

/// Every stored key, for re-encryption.
pub fn all_sealed(conn: &mut DbConn) -> QueryResult<Vec<(String, String)>> {
    provider_keys::table.select((provider_keys::id, provider_keys::sealed_key)).load(conn)
}

pub fn reseal(conn: &mut DbConn, id: &str, sealed: &str) -> QueryResult<()> {
    diesel::update(provider_keys::table.find(id)).set(provider_keys::sealed_key.eq(sealed)).execute(conn).map(drop)
}

pub fn now() -> NaiveDateTime {
    Utc::now().naive_utc()
}
