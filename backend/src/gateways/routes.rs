//! `/gateways`: create, list, read, rename and set fallback chains, limits and the
//! IP allow-list, delete, rotate the secret.

use std::collections::BTreeMap;

use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use diesel::Connection;
use ipnet::IpNet;

use super::{
    notices::{Notice, Notices},
    store, Fallbacks,
};
use crate::{
    auth::{secrets, CurrentUser},
    catalog::{price::usd, Catalog},
    config::{parse_cidr, usd_to_nano, Config, MAX_BUDGET_USD},
    db::Db,
    error::ApiError,
    ids::GatewayId,
    limits::{Limiter, Limits},
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
    /// The limits set on this gateway; `null` is none of its own (the ceiling, if any, applies).
    pub limits: LimitsView,
    /// The operator's maximum for each limit; `null` is none.
    pub limit_ceilings: LimitsView,
    /// The client addresses (CIDRs) it takes calls from; `[]` takes any.
    pub allowed_ips: Vec<String>,
    /// Use now, against the limits (`GET /gateways/{id}` and `PATCH` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<UsageView>,
}

/// Limits as the API shows them: budgets in US dollars.
#[derive(Serialize, ToSchema, Default, Debug, PartialEq)]
pub struct LimitsView {
    pub rpm: Option<u64>,
    pub tpm: Option<u64>,
    pub max_concurrent: Option<u64>,
    pub daily_budget_usd: Option<f64>,
    pub monthly_budget_usd: Option<f64>,
}

impl From<&Limits> for LimitsView {
    fn from(limits: &Limits) -> Self {
        LimitsView {
            rpm: limits.rpm,
            tpm: limits.tpm,
            max_concurrent: limits.max_concurrent,
            daily_budget_usd: limits.daily_budget_nanousd.map(usd),
            monthly_budget_usd: limits.monthly_budget_nanousd.map(usd),
        }
    }
}

#[derive(Serialize, ToSchema, Debug)]
pub struct UsageView {
    pub requests_this_minute: u64,
    pub tokens_this_minute: u64,
    pub concurrent: u64,
    pub spend_today_usd: f64,
    pub spend_this_month_usd: f64,
}

impl Gateway {
    fn from_row(row: store::GatewayRow, config: &Config) -> Result<Self, ApiError> {
        Ok(Gateway {
            id: row.id.parse().map_err(|_| anyhow::anyhow!("corrupt gateway id"))?,
            fallbacks: Fallbacks::from_stored(&row.fallbacks).chains().clone(),
            limits: (&Limits::from_stored(&row.limits)).into(),
            limit_ceilings: (&config.limits.ceiling).into(),
            allowed_ips: row.allowed_ips().iter().map(IpNet::to_string).collect(),
            usage: None,
            name: row.name,
            secret_hint: row.secret_hint,
            created_at: row.created_at.and_utc(),
            updated_at: row.updated_at.and_utc(),
        })
    }

    /// With the gateway's use now, against its limits within the operator's ceiling.
    async fn with_usage(row: store::GatewayRow, config: &Config, limiter: &Limiter) -> Result<Self, ApiError> {
        let limits = Limits::from_stored(&row.limits).within(&config.limits.ceiling);
        let mut gateway = Gateway::from_row(row, config)?;
        let usage = limiter.usage(gateway.id, &limits).await;
        gateway.usage = Some(UsageView {
            requests_this_minute: usage.requests_this_minute,
            tokens_this_minute: usage.tokens_this_minute,
            concurrent: usage.concurrent,
            spend_today_usd: usd(usage.spend_today_nanousd),
            spend_this_month_usd: usd(usage.spend_this_month_nanousd),
        });
        Ok(gateway)
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

/// What `PATCH /gateways/{id}` changes: any of these.
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
    /// `{"rpm": 600, "tpm": 200000, "max_concurrent": 20, "daily_budget_usd": 5, "monthly_budget_usd": 50}`:
    /// any subset; a key set to `null` removes that limit. None may exceed the operator's ceiling.
    #[schema(value_type = Option<Object>)]
    #[serde(default, deserialize_with = "present")]
    pub limits: Option<Value>,
    /// `["203.0.113.0/24", "2001:db8::1"]`: the only client addresses calls are taken from;
    /// `[]` or `null` takes any. At most 100.
    #[schema(value_type = Option<Vec<String>>)]
    #[serde(default, deserialize_with = "present")]
    pub allowed_ips: Option<Value>,
}

const MAX_ALLOWED_IPS: usize = 100;

/// A `PATCH`'s `limits`, checked: each limit it names, with its new value (`None`
/// removes it). `null` for the whole object removes every limit.
struct LimitsPatch(Vec<(LimitSlot, Option<u64>)>);

/// One limit's field in `Limits`.
type LimitSlot = fn(&mut Limits) -> &mut Option<u64>;

impl LimitsPatch {
    fn parse(patch: &Value, ceiling: &Limits) -> Result<Self, ApiError> {
        let invalid = |message: String| ApiError::invalid("invalid_limits", message);
        let fields = match patch {
            Value::Null => return Ok(Self(LIMIT_FIELDS.iter().map(|(_, field, _)| (*field, None)).collect())),
            Value::Object(fields) => fields,
            _ => return Err(invalid("limits must be an object such as {\"rpm\": 600}".into())),
        };
        let mut changes = Vec::new();
        for (name, value) in fields {
            let Some((_, field, dollars)) = LIMIT_FIELDS.iter().find(|(known, _, _)| known == name) else {
                let known: Vec<&str> = LIMIT_FIELDS.iter().map(|(known, _, _)| *known).collect();
                return Err(invalid(format!("unknown limit {name:?}: use {}", known.join(", "))));
            };
            let value = match (value, dollars) {
                (Value::Null, _) => None,
                (v, false) => match v.as_u64().filter(|n| (1..=1_000_000_000).contains(n)) {
                    Some(n) => Some(n),
                    None => {
                        return Err(invalid(format!("{name} must be a whole number from 1 to 1000000000, or null")))
                    }
                },
                (v, true) => match v.as_f64().filter(|usd| *usd > 0.0 && *usd <= MAX_BUDGET_USD) {
                    Some(usd) => Some(usd_to_nano(usd)),
                    None => {
                        return Err(invalid(format!(
                            "{name} must be an amount of dollars above 0 and at most {MAX_BUDGET_USD}, or null"
                        )))
                    }
                },
            };
            let mut max = *ceiling;
            if let (Some(value), Some(max)) = (value, *field(&mut max)) {
                if value > max {
                    let max = if *dollars { usd(max).to_string() } else { max.to_string() };
                    return Err(invalid(format!(
                        "{name} may be at most {max} on this server (the operator's ceiling)"
                    )));
                }
            }
            changes.push((*field, value));
        }
        Ok(Self(changes))
    }

    /// `current` with the patch applied.
    fn apply(&self, mut current: Limits) -> Limits {
        for (field, value) in &self.0 {
            *field(&mut current) = *value;
        }
        current
    }
}

/// Each limit's name in the API, its field, and whether it is in dollars.
type LimitField = (&'static str, LimitSlot, bool);
const LIMIT_FIELDS: [LimitField; 5] = [
    ("rpm", |l| &mut l.rpm, false),
    ("tpm", |l| &mut l.tpm, false),
    ("max_concurrent", |l| &mut l.max_concurrent, false),
    ("daily_budget_usd", |l| &mut l.daily_budget_nanousd, true),
    ("monthly_budget_usd", |l| &mut l.monthly_budget_nanousd, true),
];

/// A `PATCH`'s `allowed_ips`, as stored.
fn parse_allowed_ips(value: &Value) -> Result<String, ApiError> {
    let invalid = |message: String| ApiError::invalid("invalid_allowed_ips", message);
    let list = match value {
        Value::Null => Vec::new(),
        Value::Array(items) if items.len() <= MAX_ALLOWED_IPS => items
            .iter()
            .map(|item| item.as_str().ok_or_else(|| invalid("allowed_ips holds strings".into())))
            .map(|item| item.and_then(|s| parse_cidr(s.trim()).map_err(invalid)))
            .collect::<Result<Vec<_>, _>>()?,
        _ => {
            return Err(invalid(format!("allowed_ips must be a list of at most {MAX_ALLOWED_IPS} addresses or CIDRs")))
        }
    };
    Ok(serde_json::to_string(&list).expect("CIDRs serialize"))
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
    description = "A new gateway starts with the operator's default limits. At most MAX_GATEWAYS_PER_USER per user.",
    responses((status = 201, body = CreatedGateway), (status = 400, description = "invalid_name, too_many_gateways")),
    security(("user_jwt" = [])))]
pub async fn create(
    db: web::Data<Db>,
    config: web::Data<Config>,
    user: CurrentUser,
    form: web::Json<GatewayForm>,
) -> Result<HttpResponse, ApiError> {
    let name = GatewayName::parse(&form.name)?;
    let secret = secrets::generate();
    let (hash, hint) = (secrets::SecretHash::of(&secret), secrets::hint(&secret));
    let limits = config.limits.defaults.to_stored();
    let max = config.limits.max_gateways_per_user;
    let row = db
        .run(move |conn| {
            if let Some(max) = max {
                if store::count(conn, user.0)? as u64 >= max {
                    return Ok(None);
                }
            }
            store::insert(conn, user.0, GatewayId::new(), &name.0, hash, hint, limits).map(Some)
        })
        .await?;
    let Some(row) = row else {
        return Err(ApiError::invalid(
            "too_many_gateways",
            format!("a user may have at most {} gateways on this server: delete one first", max.unwrap_or(0)),
        ));
    };
    Ok(HttpResponse::Created().json(CreatedGateway { gateway: Gateway::from_row(row, &config)?, secret }))
}

#[utoipa::path(get, path = "/gateways", tag = "gateways", description = "The caller's gateways, newest first.",
    responses((status = 200, body = GatewayList)), security(("user_jwt" = [])))]
pub async fn list(
    db: web::Data<Db>,
    config: web::Data<Config>,
    user: CurrentUser,
) -> Result<web::Json<GatewayList>, ApiError> {
    let rows = db.run(move |conn| store::list(conn, user.0)).await?;
    let gateways = rows.into_iter().map(|row| Gateway::from_row(row, &config)).collect::<Result<_, _>>()?;
    Ok(web::Json(GatewayList { gateways }))
}

#[utoipa::path(get, path = "/gateways/{id}", tag = "gateways", params(("id" = String, Path)),
    responses((status = 200, body = Gateway), (status = 404)), security(("user_jwt" = [])))]
pub async fn get(
    db: web::Data<Db>,
    config: web::Data<Config>,
    limiter: web::Data<Limiter>,
    user: CurrentUser,
    id: web::Path<GatewayId>,
) -> Result<web::Json<Gateway>, ApiError> {
    let id = id.into_inner();
    let row = db.run(move |conn| store::get(conn, user.0, id)).await?;
    Ok(web::Json(Gateway::with_usage(row, &config, &limiter).await?))
}

#[utoipa::path(patch, path = "/gateways/{id}", tag = "gateways", params(("id" = String, Path)), request_body = GatewayPatch,
    description = "Renames the gateway, replaces its fallback chains, changes its limits or its IP allow-list, in \
        any combination; every process uses the new settings from the next call.",
    responses((status = 200, body = Gateway),
        (status = 400, description = "invalid_name, invalid_fallbacks, invalid_limits, invalid_allowed_ips"),
        (status = 404)), security(("user_jwt" = [])))]
#[allow(clippy::too_many_arguments)]
pub async fn update(
    db: web::Data<Db>,
    notices: web::Data<Notices>,
    catalog: web::Data<Catalog>,
    config: web::Data<Config>,
    limiter: web::Data<Limiter>,
    user: CurrentUser,
    id: web::Path<GatewayId>,
    form: web::Json<GatewayPatch>,
) -> Result<web::Json<Gateway>, ApiError> {
    let id = id.into_inner();
    let form = form.into_inner();
    if form.name.is_none() && form.fallbacks.is_none() && form.limits.is_none() && form.allowed_ips.is_none() {
        return Err(ApiError::bad_request("send any of name, fallbacks, limits, allowed_ips"));
    }
    let name = form.name.as_deref().map(GatewayName::parse).transpose()?.map(|n| n.0);
    let fallbacks = form.fallbacks.as_ref().map(|f| Fallbacks::parse(f, &catalog)).transpose()?.map(|f| f.to_stored());
    let allowed_ips = form.allowed_ips.as_ref().map(parse_allowed_ips).transpose()?;
    let limits = form.limits.as_ref().map(|patch| LimitsPatch::parse(patch, &config.limits.ceiling)).transpose()?;
    let row = db
        .run(move |conn| {
            // The limits patch applies to the stored ones, read in the same transaction.
            conn.transaction(|conn| {
                let limits = match limits {
                    Some(patch) => {
                        Some(patch.apply(Limits::from_stored(&store::get(conn, user.0, id)?.limits)).to_stored())
                    }
                    None => None,
                };
                let changes =
                    store::GatewayChanges { name, fallbacks, limits, allowed_ips, updated_at: Utc::now().naive_utc() };
                store::update(conn, user.0, id, changes)
            })
        })
        .await?;
    notices.announce(Notice::Gateway(id));
    Ok(web::Json(Gateway::with_usage(row, &config, &limiter).await?))
}

#[utoipa::path(delete, path = "/gateways/{id}", tag = "gateways", params(("id" = String, Path)),
    description = "Deletes the gateway; its secret stops working at once. Its request history is kept until retention removes it.",
    responses((status = 204), (status = 404)), security(("user_jwt" = [])))]
pub async fn delete(
    db: web::Data<Db>,
    notices: web::Data<Notices>,
    user: CurrentUser,
    id: web::Path<GatewayId>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    db.run(move |conn| store::delete(conn, user.0, id)).await?;
    notices.announce(Notice::Gateway(id));
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(post, path = "/gateways/{id}/secret", tag = "gateways", params(("id" = String, Path)),
    description = "Replaces the secret; the previous one fails from the very next request.",
    responses((status = 200, body = RotatedSecret), (status = 404)), security(("user_jwt" = [])))]
pub async fn rotate_secret(
    db: web::Data<Db>,
    notices: web::Data<Notices>,
    user: CurrentUser,
    id: web::Path<GatewayId>,
) -> Result<web::Json<RotatedSecret>, ApiError> {
    let id = id.into_inner();
    let secret = secrets::generate();
    let (hash, hint) = (secrets::SecretHash::of(&secret), secrets::hint(&secret));
    let stored_hint = hint.clone();
    db.run(move |conn| store::set_secret(conn, user.0, id, hash, &stored_hint)).await?;
    notices.announce(Notice::Gateway(id));
    Ok(web::Json(RotatedSecret { id, secret, secret_hint: hint }))
}
