//! The analytics report, computed from a store's integer aggregates. Every ratio
//! and average is derived here, once, so both stores give the same JSON.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::Serialize;
use utoipa::ToSchema;

use super::range::{day_to_date, TimeRange};
use crate::{
    catalog::price::usd,
    events::{Summary, Totals},
    ids::GatewayId,
};

fn ratio(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

#[derive(Serialize, ToSchema, Debug, PartialEq)]
pub struct DateRange {
    pub start_date: NaiveDate,
    pub end_date: NaiveDate,
    pub days: i64,
}

#[derive(Serialize, ToSchema, Debug, PartialEq)]
pub struct SummaryStats {
    pub total_requests: u64,
    pub tokens_in: u64,
    pub tokens_out: u64,
    pub total_tokens: u64,
    /// USD, over priced calls (see `unpriced_requests`).
    pub total_cost: f64,
    /// The exact total, in nano-dollars.
    pub total_cost_nanousd: u64,
    /// Calls whose cost is unknown (the model had no price): not in the costs, never counted as free.
    pub unpriced_requests: u64,
    pub avg_latency_ms: Option<f64>,
    pub p50_latency_ms: Option<u64>,
    pub p95_latency_ms: Option<u64>,
    pub p99_latency_ms: Option<u64>,
    pub min_latency_ms: Option<u64>,
    pub max_latency_ms: Option<u64>,
    /// Over streamed calls only.
    pub avg_ttft_ms: Option<f64>,
    pub error_count: u64,
    /// Fractions of requests, 0 to 1; null when there were no requests.
    pub error_rate: Option<f64>,
    pub success_rate: Option<f64>,
}

#[derive(Serialize, ToSchema, Debug, PartialEq)]
pub struct ModelStats {
    pub requests: u64,
    pub tokens_in: u64,
    pub tokens_out: u64,
    pub total_tokens: u64,
    pub cost: f64,
    pub cost_nanousd: u64,
    pub unpriced_requests: u64,
    pub avg_latency_ms: Option<f64>,
    pub error_count: u64,
}

#[derive(Serialize, ToSchema, Debug, PartialEq)]
pub struct DailyStat {
    pub date: NaiveDate,
    pub requests: u64,
    pub tokens_in: u64,
    pub tokens_out: u64,
    pub cost: f64,
    pub cost_nanousd: u64,
    pub unpriced_requests: u64,
    pub errors: u64,
    pub success_rate: Option<f64>,
}

#[derive(Serialize, ToSchema, Debug, PartialEq)]
pub struct AnalyticsReport {
    pub gateway_id: GatewayId,
    pub date_range: DateRange,
    pub summary: SummaryStats,
    pub model_breakdown: BTreeMap<String, ModelStats>,
    /// One entry per day in the range, days without calls included.
    pub daily_stats: Vec<DailyStat>,
}

impl AnalyticsReport {
    pub fn build(gateway_id: GatewayId, range: TimeRange, summary: Summary) -> Self {
        let Summary { totals: t, latency, by_model, by_day } = summary;
        let summary = SummaryStats {
            total_requests: t.requests,
            tokens_in: t.tokens_in,
            tokens_out: t.tokens_out,
            total_tokens: t.tokens_in + t.tokens_out,
            total_cost: usd(t.cost_nanousd),
            total_cost_nanousd: t.cost_nanousd,
            unpriced_requests: t.unpriced,
            avg_latency_ms: (t.requests > 0).then(|| t.latency_sum_ms as f64 / t.requests as f64),
            p50_latency_ms: latency.map(|l| l.p50),
            p95_latency_ms: latency.map(|l| l.p95),
            p99_latency_ms: latency.map(|l| l.p99),
            min_latency_ms: latency.map(|l| l.min),
            max_latency_ms: latency.map(|l| l.max),
            avg_ttft_ms: (t.ttft_count > 0).then(|| t.ttft_sum_ms as f64 / t.ttft_count as f64),
            error_count: t.errors,
            error_rate: ratio(t.errors, t.requests),
            success_rate: ratio(t.requests - t.errors, t.requests),
        };
        let model_breakdown = by_model
            .into_iter()
            .map(|(model, m)| {
                let stats = ModelStats {
                    requests: m.requests,
                    tokens_in: m.tokens_in,
                    tokens_out: m.tokens_out,
                    total_tokens: m.tokens_in + m.tokens_out,
                    cost: usd(m.cost_nanousd),
                    cost_nanousd: m.cost_nanousd,
                    unpriced_requests: m.unpriced,
                    avg_latency_ms: (m.requests > 0).then(|| m.latency_sum_ms as f64 / m.requests as f64),
                    error_count: m.errors,
                };
                (model, stats)
            })
            .collect();
        let by_day: BTreeMap<i64, Totals> = by_day.into_iter().collect();
        let daily_stats = (range.first_day()..=range.last_day())
            .map(|day| {
                let d = by_day.get(&day).cloned().unwrap_or_default();
                DailyStat {
                    date: day_to_date(day),
                    requests: d.requests,
                    tokens_in: d.tokens_in,
                    tokens_out: d.tokens_out,
                    cost: usd(d.cost_nanousd),
                    cost_nanousd: d.cost_nanousd,
                    unpriced_requests: d.unpriced,
                    errors: d.errors,
                    success_rate: ratio(d.requests - d.errors, d.requests),
                }
            })
            .collect::<Vec<_>>();
        AnalyticsReport {
            gateway_id,
            date_range: DateRange {
                start_date: day_to_date(range.first_day()),
                end_date: day_to_date(range.last_day()),
                days: daily_stats.len() as i64,
            },
            summary,
            model_breakdown,
            daily_stats,
        }
    }
}
