//! `/gateways`: create, list, read, rename and set fallback chains, delete, rotate the secret.

use std::collections::BTreeMap;

use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::{store, Fallbacks, GatewayCache};
use crate::{
    auth::{secrets, CurrentUser},
    catalog::Catalog,
    db::Db,
    error::ApiError,
    ids::GatewayId,
};

pub fn config(cfg: &mut web::ServiceConfig) {
    cfg.route("/gateways", web::post().to(create))
        .route("/gateways", web::get().to(list))
        .route("/gateways/{id}", web::get().to(get))
        .route("/gateways/{id}", web::patch().to(update))
        .route("/gateways/{id}", web::delete().to(delete))
        .route("/gateways/{id}/secret", web::post().to(rotate_secret))
        .configure(super::provider_keys::config);
}

const NAME_MAX: usize = 100;

#[derive(Serialize, ToSchema)]
pub struct Gateway {
    pub id: GatewayId,
    pub name: String,
    /// The secret's prefix and last characters; the secret itself is never shown again.
    pub secret_hint: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// For a requested model, the models tried in order when every key of it fails
    /// (429, 5xx, timeout, unreachable); `{}` when none.
    pub fallbacks: BTreeMap<String, Vec<String>>,
}

impl TryFrom<store::GatewayRow> for Gateway {
    type Error = ApiError;
    fn try_from(row: store::GatewayRow) -> Result<Self, ApiError> {
        Ok(Gateway {
            id: row.id.parse().map_err(|_| anyhow::anyhow!("corrupt gateway id"))?,
            fallbacks: Fallbacks::from_stored(&row.fallbacks).chains().clone(),
            name: row.name,
            secret_hint: row.secret_hint,
            created_at: row.created_at.and_utc(),
            updated_at: row.updated_at.and_utc(),
        })
    }
}

#[derive(Serialize, ToSchema)]
pub struct CreatedGateway {
    #[serde(flatten)]
    pub gateway: Gateway,
    /// Shown once: store it now.
    pub secret: String,
}

#[derive(Serialize, ToSchema)]
pub struct GatewayList {
    pub gateways: Vec<Gateway>,
}

#[derive(Serialize, ToSchema)]
pub struct RotatedSecret {
    pub id: GatewayId,
    /// Shown once: the previous secret stopped working.
    pub secret: String,
    pub secret_hint: String,
}

#[derive(Deserialize, ToSchema)]
pub struct GatewayForm {
    pub name: String,
}

/// What `PATCH /gateways/{id}` changes: either or both.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GatewayPatch {
    pub name: Option<String>,
    /// `{"gpt-4o": ["anthropic/claude-sonnet-4-5", "groq/llama-3.3-70b-versatile"]}` replaces
    /// every chain; `{}` or `null` removes them. At most 50 chains of 1 to 5 models, each
    /// one the catalog routes.
    #[schema(value_type = Option<Object>)]
    #[serde(default, deserialize_with = "present")]
    pub fallbacks: Option<Value>,
}

/// A field that is present, even as `null`, is `Some`.
fn present<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(deserializer).map(Some)
}

/// A gateway name: trimmed, 1 to 100 characters, no control characters.
struct GatewayName(String);

impl GatewayName {
    fn parse(raw: &str) -> Result<Self, ApiError> {
        let name = raw.trim();
        if name.is_empty() || name.chars().count() > NAME_MAX || name.chars().any(char::is_control) {
            return Err(ApiError::invalid(
                "invalid_name",
                format!("name must be 1 to {NAME_MAX} printable characters"),
            ));
        }
        Ok(Self(name.to_string()))
    }
}

#[utoipa::path(post, path = "/gateways", tag = "gateways", request_body = GatewayForm,
    responses((status = 201, body = CreatedGateway)), security(("user_jwt" = [])))]
pub async fn create(
    db: web::Data<Db>,
    user: CurrentUser,
    form: web::Json<GatewayForm>,
) -> Result<HttpResponse, ApiError> {
    let name = GatewayName::parse(&form.name)?;
    let secret = secrets::generate();
    let (hash, hint) = (secrets::SecretHash::of(&secret), secrets::hint(&secret));
    let row = db.run(move |conn| store::insert(conn, user.0, GatewayId::new(), &name.0, hash, hint)).await?;
    Ok(HttpResponse::Created().json(CreatedGateway { gateway: row.try_into()?, secret }))
}

#[utoipa::path(get, path = "/gateways", tag = "gateways", description = "The caller's gateways, newest first.",
    responses((status = 200, body = GatewayList)), security(("user_jwt" = [])))]
pub async fn list(db: web::Data<Db>, user: CurrentUser) -> Result<web::Json<GatewayList>, ApiError> {
    let rows = db.run(move |conn| store::list(conn, user.0)).await?;
    let gateways = rows.into_iter().map(Gateway::try_from).collect::<Result<_, _>>()?;
    Ok(web::Json(GatewayList { gateways }))
}

#[utoipa::path(get, path = "/gateways/{id}", tag = "gateways", params(("id" = String, Path)),
    responses((status = 200, body = Gateway), (status = 404)), security(("user_jwt" = [])))]
pub async fn get(
    db: web::Data<Db>,
    user: CurrentUser,
    id: web::Path<GatewayId>,
) -> Result<web::Json<Gateway>, ApiError> {
    let id = id.into_inner();
    let row = db.run(move |conn| store::get(conn, user.0, id)).await?;
    Ok(web::Json(row.try_into()?))
}

#[utoipa::path(patch, path = "/gateways/{id}", tag = "gateways", params(("id" = String, Path)), request_body = GatewayPatch,
    description = "Renames the gateway and/or replaces its fallback chains; the data plane uses the new chains at once.",
    responses((status = 200, body = Gateway), (status = 400, description = "invalid_name, invalid_fallbacks"),
        (status = 404)), security(("user_jwt" = [])))]
pub async fn update(
    db: web::Data<Db>,
    cache: web::Data<GatewayCache>,
    catalog: web::Data<Catalog>,
    user: CurrentUser,
    id: web::Path<GatewayId>,
    form: web::Json<GatewayPatch>,
) -> Result<web::Json<Gateway>, ApiError> {
    let id = id.into_inner();
    let form = form.into_inner();
    if form.name.is_none() && form.fallbacks.is_none() {
        return Err(ApiError::bad_request("send a name, fallbacks, or both"));
    }
    let changes = store::GatewayChanges {
        name: form.name.as_deref().map(GatewayName::parse).transpose()?.map(|n| n.0),
        fallbacks: form.fallbacks.as_ref().map(|f| Fallbacks::parse(f, &catalog)).transpose()?.map(|f| f.to_stored()),
        updated_at: Utc::now().naive_utc(),
    };
    let row = db.run(move |conn| store::update(conn, user.0, id, changes)).await?;
    cache.invalidate(id);
    Ok(web::Json(row.try_into()?))
}

#[utoipa::path(delete, path = "/gateways/{id}", tag = "gateways", params(("id" = String, Path)),
    description = "Deletes the gateway; its secret stops working at once. Its request history is kept until retention removes it.",
    responses((status = 204), (status = 404)), security(("user_jwt" = [])))]
pub async fn delete(
    db: web::Data<Db>,
    cache: web::Data<GatewayCache>,
    user: CurrentUser,
    id: web::Path<GatewayId>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    db.run(move |conn| store::delete(conn, user.0, id)).await?;
    cache.invalidate(id);
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(post, path = "/gateways/{id}/secret", tag = "gateways", params(("id" = String, Path)),
    description = "Replaces the secret; the previous one fails from the very next request.",
    responses((status = 200, body = RotatedSecret), (status = 404)), security(("user_jwt" = [])))]
pub async fn rotate_secret(
    db: web::Data<Db>,
    cache: web::Data<GatewayCache>,
    user: CurrentUser,
    id: web::Path<GatewayId>,
) -> Result<web::Json<RotatedSecret>, ApiError> {
    let id = id.into_inner();
    let secret = secrets::generate();
    let (hash, hint) = (secrets::SecretHash::of(&secret), secrets::hint(&secret));
    let stored_hint = hint.clone();
    db.run(move |conn| store::set_secret(conn, user.0, id, hash, &stored_hint)).await?;
    cache.invalidate(id);
    Ok(web::Json(RotatedSecret { id, secret, secret_hint: hint }))
}
