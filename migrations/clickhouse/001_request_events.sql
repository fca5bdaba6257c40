-- One row per proxied call. Runs on ClickHouse 18.16 (Debian's) and current releases:
-- plain DateTime (UTC seconds) for partitioning and the sort key, exact milliseconds in
-- ts_ms, booleans as UInt8, money as integer nano-dollars.
CREATE TABLE IF NOT EXISTS request_events
(
    id String,
    request_id String,
    gateway_id String,
    user_id String,
    ts DateTime,
    ts_ms Int64,
    endpoint String,
    model String,
    upstream_model String,
    provider String,
    streaming UInt8,
    status_code UInt16,
    ok UInt8,
    error_type Nullable(String),
    error_message Nullable(String),
    tokens_prompt UInt64,
    tokens_completion UInt64,
    tokens_cached UInt64,
    cost_nanousd UInt64,
    latency_ms UInt64,
    ttft_ms Nullable(UInt64),
    attempts UInt32,
    key_hint Nullable(String)
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(ts)
ORDER BY (gateway_id, ts);
