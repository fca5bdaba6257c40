//! Reads and writes of the `users` table.

use chrono::{NaiveDateTime, Utc};
use diesel::prelude::*;

use crate::{
    db::{schema::users, DbConn},
    ids::UserId,
};

#[derive(Queryable, Selectable, Debug, Clone)]
#[diesel(table_name = users)]
pub struct UserRow {
    pub id: String,
    pub username: String,
    pub password_hash: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Insertable)]
#[diesel(table_name = users)]
struct NewUser<'a> {
    id: String,
    username: &'a str,
    password_hash: Option<&'a str>,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

pub fn insert(conn: &mut DbConn, id: UserId, username: &str) -> QueryResult<UserRow> {
    let now = Utc::now().naive_utc();
    diesel::insert_into(users::table)
        .values(NewUser { id: id.to_string(), username, password_hash: None, created_at: now, updated_at: now })
        .execute(conn)?;
    find(conn, id)
}

pub fn find(conn: &mut DbConn, id: UserId) -> QueryResult<UserRow> {
    users::table.find(id.to_string()).select(UserRow::as_select()).first(conn)
}

pub fn find_by_username(conn: &mut DbConn, username: &str) -> QueryResult<Option<UserRow>> {
    users::table.filter(users::username.eq(username)).select(UserRow::as_select()).first(conn).optional()
}

pub fn set_password_hash(conn: &mut DbConn, id: UserId, hash: &str) -> QueryResult<UserRow> {
    let updated = diesel::update(users::table.find(id.to_string()))
        .set((users::password_hash.eq(hash), users::updated_at.eq(Utc::now().naive_utc())))
        .execute(conn)?;
    if updated == 0 {
        return Err(diesel::result::Error::NotFound);
    }
    find(conn, id)
}
