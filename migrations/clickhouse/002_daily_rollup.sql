-- Daily sums per gateway and model, kept up to date by a materialized view on every
-- insert, so dashboards over whole days read a few hundred rows instead of every call.
-- day counts days since 1970-01-01 (UTC), independent of the server's time zone.
CREATE TABLE IF NOT EXISTS request_events_daily
(
    gateway_id String,
    day Int64,
    model String,
    requests UInt64,
    errors UInt64,
    tokens_in UInt64,
    tokens_out UInt64,
    cost_nanousd UInt64,
    latency_sum_ms UInt64,
    ttft_sum_ms UInt64,
    ttft_count UInt64
)
ENGINE = SummingMergeTree
PARTITION BY intDiv(day, 32)
ORDER BY (gateway_id, day, model);

CREATE MATERIALIZED VIEW IF NOT EXISTS request_events_daily_mv TO request_events_daily AS
SELECT
    gateway_id,
    toInt64(intDiv(ts_ms, 86400000)) AS day,
    model,
    toUInt64(count()) AS requests,
    toUInt64(sum(1 - ok)) AS errors,
    toUInt64(sum(tokens_prompt)) AS tokens_in,
    toUInt64(sum(tokens_completion)) AS tokens_out,
    toUInt64(sum(cost_nanousd)) AS cost_nanousd,
    toUInt64(sum(latency_ms)) AS latency_sum_ms,
    toUInt64(ifNull(sum(ttft_ms), 0)) AS ttft_sum_ms,
    toUInt64(count(ttft_ms)) AS ttft_count
FROM request_events
GROUP BY gateway_id, day, model;

-- Events stored before this migration. Tollgate applies migrations before its event
-- writer starts, so nothing is inserted between the view's creation and this.
INSERT INTO request_events_daily
SELECT
    gateway_id,
    toInt64(intDiv(ts_ms, 86400000)) AS day,
    model,
    toUInt64(count()),
    toUInt64(sum(1 - ok)),
    toUInt64(sum(tokens_prompt)),
    toUInt64(sum(tokens_completion)),
    toUInt64(sum(cost_nanousd)),
    toUInt64(sum(latency_ms)),
    toUInt64(ifNull(sum(ttft_ms), 0)),
    toUInt64(count(ttft_ms))
FROM request_events
GROUP BY gateway_id, day, model;
