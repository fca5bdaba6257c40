//! `/gateways/{id}/provider-keys`: a gateway's own provider keys. A key goes in once;
//! what comes back is only its hint, its status and when it was last used.

use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::store::{self, ProviderKeyRow};
use crate::{
    auth::{secrets, CurrentUser},
    catalog::providers::{self, PROVIDERS},
    db::Db,
    error::ApiError,
    gateways::{
        notices::{Notice, Notices},
        GatewayCache,
    },
    ids::{GatewayId, ProviderKeyId},
    proxy::Proxy,
};

pub fn config(cfg: &mut web::ServiceConfig) {
    cfg.route("/gateways/{id}/provider-keys", web::get().to(list))
        .route("/gateways/{id}/provider-keys", web::post().to(add))
        .route("/gateways/{id}/provider-keys/{key_id}", web::delete().to(delete));
}

const LABEL_MAX: usize = 100;
const KEY_MAX: usize = 1024;
/// Keys one gateway may hold, over all providers.
const KEYS_PER_GATEWAY: usize = 50;

#[derive(Serialize, ToSchema)]
pub struct ProviderKey {
    pub id: ProviderKeyId,
    pub provider: String,
    pub label: String,
    /// The key's last characters; the key itself is never shown.
    pub key_hint: String,
    /// `active`, or `invalid` once the provider refused the key (401/403): it is not used.
    pub status: String,
    pub last_used_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

#[derive(Serialize, ToSchema)]
pub struct ProviderChoice {
    pub name: &'static str,
    /// Whether the operator's keys serve this gateway for the provider when it has none of its own.
    pub operator_keys: bool,
}

#[derive(Serialize, ToSchema)]
pub struct ProviderKeyList {
    pub keys: Vec<ProviderKey>,
    /// The providers a key may be added for.
    pub providers: Vec<ProviderChoice>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewProviderKey {
    pub provider: String,
    pub api_key: String,
    #[serde(default)]
    pub label: String,
}

impl ProviderKey {
    fn from_row(row: ProviderKeyRow, proxy: &Proxy) -> Result<Self, ApiError> {
        let id: ProviderKeyId = row.id.parse().map_err(|_| anyhow::anyhow!("corrupt provider key id"))?;
        let state = proxy.key_states.peek(id);
        let used_here = state.as_ref().map(|s| s.last_used_ms()).filter(|ms| *ms > 0);
        let used_here = used_here.and_then(|ms| DateTime::from_timestamp_millis(ms as i64));
        let stored = row.last_used_at.map(|at| at.and_utc());
        let invalid = row.status == store::INVALID || state.is_some_and(|s| s.invalid());
        Ok(ProviderKey {
            id,
            provider: row.provider,
            label: row.label,
            key_hint: row.key_hint,
            status: if invalid { store::INVALID } else { store::ACTIVE }.to_string(),
            last_used_at: stored.max(used_here),
            created_at: row.created_at.and_utc(),
        })
    }
}

/// The providers a gateway can hold keys for: those this server routes to.
fn choices(proxy: &Proxy) -> Vec<ProviderChoice> {
    PROVIDERS
        .iter()
        .filter(|p| p.remote() && proxy.upstreams.serves(p))
        .map(|p| ProviderChoice { name: p.name, operator_keys: proxy.upstreams.operator_keys_allowed(p.name) })
        .collect()
}

#[utoipa::path(get, path = "/gateways/{id}/provider-keys", tag = "provider keys", params(("id" = String, Path)),
    description = "The gateway's own provider keys (hints only), oldest first, and the providers a key may be added for.",
    responses((status = 200, body = ProviderKeyList), (status = 404)), security(("user_jwt" = [])))]
pub async fn list(
    db: web::Data<Db>,
    proxy: web::Data<Proxy>,
    user: CurrentUser,
    id: web::Path<GatewayId>,
) -> Result<web::Json<ProviderKeyList>, ApiError> {
    let id = id.into_inner();
    let rows = db.run(move |conn| store::list(conn, user.0, id)).await?;
    let keys = rows.into_iter().map(|row| ProviderKey::from_row(row, &proxy)).collect::<Result<_, _>>()?;
    Ok(web::Json(ProviderKeyList { keys, providers: choices(&proxy) }))
}

#[utoipa::path(post, path = "/gateways/{id}/provider-keys", tag = "provider keys", params(("id" = String, Path)),
    request_body = NewProviderKey,
    description = "Stores a provider key for the gateway, encrypted (AES-256-GCM under MASTER_KEY). Calls to that \
        provider use the gateway's keys, in turn, before the operator's; a key the provider refuses is marked invalid.",
    responses((status = 201, body = ProviderKey),
        (status = 400, description = "invalid_provider, invalid_api_key, invalid_label, too_many_keys"),
        (status = 404)), security(("user_jwt" = [])))]
pub async fn add(
    db: web::Data<Db>,
    proxy: web::Data<Proxy>,
    cache: web::Data<GatewayCache>,
    notices: web::Data<Notices>,
    user: CurrentUser,
    gateway: web::Path<GatewayId>,
    form: web::Json<NewProviderKey>,
) -> Result<HttpResponse, ApiError> {
    let gateway = gateway.into_inner();
    let NewProviderKey { provider, api_key, label } = form.into_inner();
    let provider = match providers::find(provider.trim()) {
        Some(p) if p.remote() && proxy.upstreams.serves(p) => p,
        _ => {
            let names: Vec<_> = choices(&proxy).into_iter().map(|c| c.name).collect();
            return Err(ApiError::invalid(
                "invalid_provider",
                format!("provider must be one of: {}", names.join(", ")),
            ));
        }
    };
    let api_key = api_key.trim();
    if api_key.is_empty() || api_key.len() > KEY_MAX || !api_key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ApiError::invalid(
            "invalid_api_key",
            format!("api_key must be 1 to {KEY_MAX} printable characters without spaces"),
        ));
    }
    if secrets::looks_issued(api_key) {
        return Err(ApiError::invalid(
            "invalid_api_key",
            "this is a Tollgate gateway secret, not a provider's API key",
        ));
    }
    let label = label.trim().to_string();
    if label.chars().count() > LABEL_MAX || label.chars().any(char::is_control) {
        return Err(ApiError::invalid(
            "invalid_label",
            format!("label must be at most {LABEL_MAX} printable characters"),
        ));
    }
    let id = ProviderKeyId::new();
    let row = ProviderKeyRow {
        id: id.to_string(),
        gateway_id: gateway.to_string(),
        provider: provider.name.to_string(),
        label,
        key_hint: secrets::key_hint(api_key),
        sealed_key: cache.vault().seal(id, api_key),
        status: store::ACTIVE.to_string(),
        last_used_at: None,
        created_at: store::now(),
    };
    let stored = row.clone();
    let added = db.run(move |conn| store::insert(conn, user.0, &stored, KEYS_PER_GATEWAY)).await?;
    if !added {
        return Err(ApiError::invalid(
            "too_many_keys",
            format!("a gateway holds at most {KEYS_PER_GATEWAY} provider keys: delete one first"),
        ));
    }
    notices.announce(Notice::Gateway(gateway));
    Ok(HttpResponse::Created().json(ProviderKey::from_row(row, &proxy)?))
}

#[utoipa::path(delete, path = "/gateways/{id}/provider-keys/{key_id}", tag = "provider keys",
    params(("id" = String, Path), ("key_id" = String, Path)),
    description = "Deletes the key; no call uses it from then on.",
    responses((status = 204), (status = 404)), security(("user_jwt" = [])))]
pub async fn delete(
    db: web::Data<Db>,
    notices: web::Data<Notices>,
    user: CurrentUser,
    path: web::Path<(GatewayId, ProviderKeyId)>,
) -> Result<HttpResponse, ApiError> {
    let (gateway, id) = path.into_inner();
    db.run(move |conn| store::delete(conn, user.0, gateway, id)).await?;
    notices.announce(Notice::KeyDeleted(gateway, id));
    Ok(HttpResponse::NoContent().finish())
}
