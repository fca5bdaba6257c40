-- An unknown price is never reported as free: `priced` is 0 when the model had no
-- price (cost_nanousd is then unknown, not zero), and `error_code` keeps a failure's
-- machine code beside its OpenAI error type. Every event stored before this was priced.
ALTER TABLE request_events ADD COLUMN priced UInt8 DEFAULT 1;
ALTER TABLE request_events ADD COLUMN error_code Nullable(String);

-- The daily rollup counts unpriced calls too, so the view that fills it is recreated
-- with the new sum. Why this is safe:
-- * The rollup rows already stored are exact with unpriced = 0 (the new column's
--   default): every event before this migration was priced. Nothing to backfill.
-- * The view is dropped before its target gains the column: on ClickHouse 18.16 a view
--   whose SELECT lacks a column of its target makes every insert into request_events
--   fail ("Expected column unpriced: while pushing to view"). Checked on 18.16.1 and on
--   a current release.
-- * Between the DROP and the CREATE an insert would reach request_events but not the
--   rollup. Tollgate runs migrations under its migration lock before its event writer
--   inserts anything (a writer's insert waits for the schema), so no upgraded process
--   writes in between. Stop processes of older versions before upgrading: a batch of
--   theirs landing in that moment would be missing from whole-day dashboards (not from
--   logs, exports or partial-day figures, which read the events).
DROP TABLE IF EXISTS request_events_daily_mv;

ALTER TABLE request_events_daily ADD COLUMN unpriced UInt64 DEFAULT 0;

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
    toUInt64(count(ttft_ms)) AS ttft_count,
    toUInt64(sum(1 - priced)) AS unpriced
FROM request_events
GROUP BY gateway_id, day, model;
