//! Limits on the wire: OpenAI's `x-ratelimit-*` headers on every answer of a
//! limited gateway, and a refusal as OpenAI's 429 (`rate_limit_exceeded`, or
//! `insufficient_quota` for a budget) with `Retry-After`.

use std::time::Duration;

use actix_web::{
    http::{
        header::{HeaderName, HeaderValue},
        StatusCode,
    },
    HttpResponse,
};

use super::{LimitKind, RateState, Refusal};
use crate::error::OpenAiError;

/// A duration as OpenAI writes its resets: `250ms`, `1.5s`, `6m0s`.
pub fn reset_text(duration: Duration) -> String {
    let ms = duration.as_millis();
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms < 60_000 {
        let text = format!("{:.3}", ms as f64 / 1000.0);
        format!("{}s", text.trim_end_matches('0').trim_end_matches('.'))
    } else {
        format!("{}m{}s", ms / 60_000, (ms % 60_000) / 1000)
    }
}

pub fn add_rate_headers(response: &mut HttpResponse, rate: &RateState) {
    let headers = response.headers_mut();
    for (window, limit, remaining, reset) in [
        (rate.requests, "x-ratelimit-limit-requests", "x-ratelimit-remaining-requests", "x-ratelimit-reset-requests"),
        (rate.tokens, "x-ratelimit-limit-tokens", "x-ratelimit-remaining-tokens", "x-ratelimit-reset-tokens"),
    ] {
        let Some(window) = window else { continue };
        headers.insert(HeaderName::from_static(limit), HeaderValue::from(window.limit));
        headers.insert(HeaderName::from_static(remaining), HeaderValue::from(window.remaining));
        if let Ok(value) = HeaderValue::from_str(&reset_text(window.reset)) {
            headers.insert(HeaderName::from_static(reset), value);
        }
    }
}

impl Refusal {
    /// The error in OpenAI's shape: `param` names the limit.
    pub fn error(&self) -> OpenAiError {
        let (kind, code) = match self.kind {
            LimitKind::Rpm | LimitKind::MaxConcurrent => ("requests", "rate_limit_exceeded"),
            LimitKind::Tpm => ("tokens", "rate_limit_exceeded"),
            LimitKind::DailyBudget | LimitKind::MonthlyBudget => ("insufficient_quota", "insufficient_quota"),
        };
        OpenAiError {
            status: StatusCode::TOO_MANY_REQUESTS,
            message: self.message.clone(),
            kind,
            code: Some(code),
            param: Some(self.kind.param()),
        }
    }

    /// Adds `Retry-After` (whole seconds, at least 1), `retry-after-ms` and the rate headers.
    pub fn decorate(&self, response: &mut HttpResponse) {
        let headers = response.headers_mut();
        let seconds = self.retry_after.as_millis().div_ceil(1000).max(1) as u64;
        headers.insert(actix_web::http::header::RETRY_AFTER, HeaderValue::from(seconds));
        headers
            .insert(HeaderName::from_static("retry-after-ms"), HeaderValue::from(self.retry_after.as_millis() as u64));
        add_rate_headers(response, &self.rate);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resets_read_like_openais() {
        assert_eq!(reset_text(Duration::from_millis(250)), "250ms");
        assert_eq!(reset_text(Duration::from_millis(1500)), "1.5s");
        assert_eq!(reset_text(Duration::from_secs(12)), "12s");
        assert_eq!(reset_text(Duration::from_secs(360)), "6m0s");
    }
}
