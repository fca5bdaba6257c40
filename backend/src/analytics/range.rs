//! Time ranges from query strings: `days=7`, or `from`/`to` as dates (inclusive)
//! or RFC 3339 instants. Ranges are capped so one request cannot scan forever.

use chrono::{DateTime, NaiveDate, Utc};

use crate::{error::ApiError, events::query::MS_PER_DAY};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimeRange {
    /// Inclusive.
    pub from_ms: i64,
    /// Exclusive.
    pub to_ms: i64,
}

impl TimeRange {
    pub fn first_day(&self) -> i64 {
        self.from_ms.div_euclid(MS_PER_DAY)
    }

    pub fn last_day(&self) -> i64 {
        (self.to_ms - 1).div_euclid(MS_PER_DAY)
    }

    /// Reads `days` or `from`/`to`; `default_days` when neither is given.
    pub fn parse(
        days: Option<u32>,
        from: Option<&str>,
        to: Option<&str>,
        default_days: u32,
        max_days: u32,
        now: DateTime<Utc>,
    ) -> Result<Self, ApiError> {
        let today = now.timestamp_millis().div_euclid(MS_PER_DAY);
        if days.is_some() && (from.is_some() || to.is_some()) {
            return Err(ApiError::invalid("invalid_range", "give either days or from/to, not both"));
        }
        let range = if from.is_none() && to.is_none() {
            let days = i64::from(days.unwrap_or(default_days));
            if days == 0 {
                return Err(ApiError::invalid("invalid_range", "days must be at least 1"));
            }
            TimeRange { from_ms: (today - days + 1) * MS_PER_DAY, to_ms: (today + 1) * MS_PER_DAY }
        } else {
            let from_ms = match from {
                Some(text) => instant(text, false)?,
                None => (today - i64::from(default_days) + 1) * MS_PER_DAY,
            };
            let to_ms = match to {
                Some(text) => instant(text, true)?,
                None => now.timestamp_millis() + 1,
            };
            TimeRange { from_ms, to_ms }
        };
        if range.to_ms <= range.from_ms {
            return Err(ApiError::invalid("invalid_range", "from must be before to"));
        }
        let span = range.last_day() - range.first_day() + 1;
        if span > i64::from(max_days) {
            return Err(ApiError::invalid("invalid_range", format!("a range may cover at most {max_days} days")));
        }
        Ok(range)
    }
}

/// A date is a whole UTC day (`to` includes it); an RFC 3339 time is that instant.
fn instant(text: &str, end: bool) -> Result<i64, ApiError> {
    if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        let date = if end { date.succ_opt().unwrap_or(date) } else { date };
        return Ok(date.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc().timestamp_millis());
    }
    DateTime::parse_from_rfc3339(text).map(|t| t.timestamp_millis()).map_err(|_| {
        ApiError::invalid("invalid_range", format!("{text:?} is neither a YYYY-MM-DD date nor an RFC 3339 time"))
    })
}

pub fn day_to_date(day: i64) -> NaiveDate {
    DateTime::from_timestamp_millis(day * MS_PER_DAY).expect("day in range").date_naive()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        "2026-11-25T15:30:00Z".parse().unwrap()
    }

    fn date_ms(date: &str) -> i64 {
        instant(date, false).unwrap()
    }

    #[test]
    fn days_counts_today_and_the_days_before_it() {
        let range = TimeRange::parse(Some(7), None, None, 30, 400, now()).unwrap();
        assert_eq!(range, TimeRange { from_ms: date_ms("2026-11-19"), to_ms: date_ms("2026-11-26") });
        assert_eq!(range.last_day() - range.first_day() + 1, 7);
    }

    #[test]
    fn dates_are_whole_days_and_instants_are_exact() {
        let range = TimeRange::parse(None, Some("2026-11-01"), Some("2026-11-02"), 30, 400, now()).unwrap();
        assert_eq!(range, TimeRange { from_ms: date_ms("2026-11-01"), to_ms: date_ms("2026-11-03") });
        let range =
            TimeRange::parse(None, Some("2026-11-24T15:30:00Z"), Some("2026-11-25T15:30:00Z"), 30, 400, now()).unwrap();
        assert_eq!(range.to_ms - range.from_ms, 24 * 3600 * 1000);
        assert_eq!((range.first_day(), range.last_day() - range.first_day()), (range.first_day(), 1));
    }

    #[test]
    fn bad_ranges_are_refused() {
        for (days, from, to) in [
            (Some(0), None, None),
            (Some(7), Some("2026-11-01"), None),
            (None, Some("2026-11-05"), Some("2026-11-01")),
            (None, Some("yesterday"), None),
            (Some(401), None, None),
            (None, Some("2024-01-01"), Some("2026-01-01")),
        ] {
            assert!(TimeRange::parse(days, from, to, 30, 400, now()).is_err(), "{days:?} {from:?} {to:?}");
        }
    }
}
