//! `/gateways/{id}/analytics`, `/logs` and `/logs/export`, for the gateway's owner only.

use actix_web::{http::header, web, HttpResponse};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{
    export::{stream_export, Format},
    logs::LogEntry,
    range::{day_to_date, TimeRange},
    report::AnalyticsReport,
};
use crate::{
    auth::CurrentUser,
    db::Db,
    error::ApiError,
    events::{Cursor, EventFilter, EventStore, Order, StatusFilter},
    gateways::store as gateways,
    ids::GatewayId,
};

/// Limits on what one analytics request may ask for.
#[derive(Clone, Copy)]
pub struct AnalyticsLimits {
    /// The widest range, in days (the retention period).
    pub max_days: u32,
}

pub fn config(cfg: &mut web::ServiceConfig) {
    cfg.route("/gateways/{id}/analytics", web::get().to(analytics))
        .route("/gateways/{id}/logs", web::get().to(logs))
        .route("/gateways/{id}/logs/export", web::get().to(export));
}

const DEFAULT_DAYS: u32 = 7;
const LOGS_DEFAULT_LIMIT: usize = 50;
const LOGS_MAX_LIMIT: usize = 500;

#[derive(Deserialize, IntoParams)]
pub struct AnalyticsQuery {
    /// The last N days including today (default 7).
    days: Option<u32>,
    /// `YYYY-MM-DD` (whole day) or an RFC 3339 time.
    from: Option<String>,
    /// `YYYY-MM-DD` (inclusive) or an RFC 3339 time (exclusive).
    to: Option<String>,
    model: Option<String>,
}

#[derive(Deserialize, IntoParams)]
pub struct LogsQuery {
    /// 1 to 500, default 50.
    limit: Option<usize>,
    /// The `next_cursor` of the previous page.
    before: Option<String>,
    /// `ok` or `error`.
    status: Option<String>,
    model: Option<String>,
    from: Option<String>,
    to: Option<String>,
    /// `csv` (default) or `ndjson`; exports only.
    format: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct LogsPage {
    pub logs: Vec<LogEntry>,
    /// Pass as `before` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// 404 unless the gateway exists and is the caller's.
async fn owned_gateway(db: &Db, user: CurrentUser, id: GatewayId) -> Result<(), ApiError> {
    db.run(move |conn| gateways::get(conn, user.0, id)).await?;
    Ok(())
}

fn non_empty(value: Option<String>) -> Option<String> {
    value.map(|v| v.trim().to_string()).filter(|v| !v.is_empty())
}

fn status_filter(status: Option<&str>) -> Result<Option<StatusFilter>, ApiError> {
    match status {
        None | Some("") | Some("all") => Ok(None),
        Some("ok") => Ok(Some(StatusFilter::Ok)),
        Some("error") => Ok(Some(StatusFilter::Error)),
        Some(_) => Err(ApiError::invalid("invalid_status", "status must be ok or error")),
    }
}

impl LogsQuery {
    fn filter(&self, gateway_id: GatewayId, limits: AnalyticsLimits) -> Result<EventFilter, ApiError> {
        let range = TimeRange::parse(
            None,
            self.from.as_deref(),
            self.to.as_deref(),
            limits.max_days,
            limits.max_days,
            Utc::now(),
        )?;
        Ok(EventFilter {
            gateway_id,
            from_ms: range.from_ms,
            to_ms: range.to_ms,
            model: non_empty(self.model.clone()),
            status: status_filter(self.status.as_deref())?,
        })
    }
}

#[utoipa::path(get, path = "/gateways/{id}/analytics", tag = "analytics", params(("id" = String, Path), AnalyticsQuery),
    responses((status = 200, body = AnalyticsReport), (status = 400, description = "invalid_range"), (status = 404)),
    security(("user_jwt" = [])))]
pub async fn analytics(
    db: web::Data<Db>,
    store: web::Data<dyn EventStore>,
    limits: web::Data<AnalyticsLimits>,
    user: CurrentUser,
    id: web::Path<GatewayId>,
    query: web::Query<AnalyticsQuery>,
) -> Result<web::Json<AnalyticsReport>, ApiError> {
    let id = id.into_inner();
    let range = TimeRange::parse(
        query.days,
        query.from.as_deref(),
        query.to.as_deref(),
        DEFAULT_DAYS,
        limits.max_days,
        Utc::now(),
    )?;
    owned_gateway(&db, user, id).await?;
    let filter = EventFilter {
        gateway_id: id,
        from_ms: range.from_ms,
        to_ms: range.to_ms,
        model: non_empty(query.model.clone()),
        status: None,
    };
    let summary = store.summary(&filter).await?;
    Ok(web::Json(AnalyticsReport::build(id, range, summary)))
}

#[utoipa::path(get, path = "/gateways/{id}/logs", tag = "analytics", params(("id" = String, Path), LogsQuery),
    description = "Calls, newest first, with cursor paging.",
    responses((status = 200, body = LogsPage), (status = 400), (status = 404)), security(("user_jwt" = [])))]
pub async fn logs(
    db: web::Data<Db>,
    store: web::Data<dyn EventStore>,
    limits: web::Data<AnalyticsLimits>,
    user: CurrentUser,
    id: web::Path<GatewayId>,
    query: web::Query<LogsQuery>,
) -> Result<web::Json<LogsPage>, ApiError> {
    let id = id.into_inner();
    let limit = query.limit.unwrap_or(LOGS_DEFAULT_LIMIT);
    if !(1..=LOGS_MAX_LIMIT).contains(&limit) {
        return Err(ApiError::invalid("invalid_limit", format!("limit must be 1 to {LOGS_MAX_LIMIT}")));
    }
    let before = match non_empty(query.before.clone()) {
        Some(text) => Some(
            Cursor::decode(&text)
                .ok_or_else(|| ApiError::invalid("invalid_cursor", "before is not a cursor from this API"))?,
        ),
        None => None,
    };
    let filter = query.filter(id, **limits)?;
    owned_gateway(&db, user, id).await?;
    // One more than asked tells whether another page exists.
    let mut events = store.page(&filter, Order::NewestFirst, before, limit + 1).await?;
    let next_cursor = (events.len() > limit).then(|| {
        events.truncate(limit);
        events.last().map(|e| Cursor { ts_ms: e.ts_ms(), id: e.id }.encode())
    });
    Ok(web::Json(LogsPage {
        logs: events.into_iter().map(LogEntry::from).collect(),
        next_cursor: next_cursor.flatten(),
    }))
}

#[utoipa::path(get, path = "/gateways/{id}/logs/export", tag = "analytics", params(("id" = String, Path), LogsQuery),
    description = "Every call matching the filters, oldest first, as a CSV or NDJSON download (streamed).",
    responses((status = 200, description = "text/csv or application/x-ndjson attachment"), (status = 400), (status = 404)),
    security(("user_jwt" = [])))]
pub async fn export(
    db: web::Data<Db>,
    store: web::Data<dyn EventStore>,
    limits: web::Data<AnalyticsLimits>,
    user: CurrentUser,
    id: web::Path<GatewayId>,
    query: web::Query<LogsQuery>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let format = Format::parse(query.format.as_deref())
        .ok_or_else(|| ApiError::invalid("invalid_format", "format must be csv or ndjson"))?;
    let filter = query.filter(id, **limits)?;
    owned_gateway(&db, user, id).await?;
    let range = TimeRange { from_ms: filter.from_ms, to_ms: filter.to_ms };
    let filename = format!(
        "tollgate-{id}-{}-to-{}.{}",
        day_to_date(range.first_day()),
        day_to_date(range.last_day()),
        format.extension()
    );
    Ok(HttpResponse::Ok()
        .content_type(format.content_type())
        .insert_header((header::CONTENT_DISPOSITION, format!("attachment; filename=\"{filename}\"")))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .streaming(stream_export(store.into_inner(), filter, format)))
}
