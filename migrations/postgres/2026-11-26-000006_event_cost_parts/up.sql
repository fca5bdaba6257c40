-- Where the token counts came from: provider (its usage), estimated (it answered but
-- reported none: the prompt was counted by Tollgate) or none (no provider answered).
ALTER TABLE request_events ADD COLUMN usage_source TEXT NOT NULL DEFAULT 'provider';
-- The cost by part (nano-USD); cost_nanousd is their sum. Zero for events stored before.
ALTER TABLE request_events ADD COLUMN cost_input_nanousd BIGINT NOT NULL DEFAULT 0;
ALTER TABLE request_events ADD COLUMN cost_cached_nanousd BIGINT NOT NULL DEFAULT 0;
ALTER TABLE request_events ADD COLUMN cost_cache_write_nanousd BIGINT NOT NULL DEFAULT 0;
ALTER TABLE request_events ADD COLUMN cost_output_nanousd BIGINT NOT NULL DEFAULT 0;
