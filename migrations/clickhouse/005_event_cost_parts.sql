-- Where the token counts came from: provider (its usage), estimated (it answered but
-- reported none, and the prompt was counted by Tollgate) or none (no provider
-- answered). The cost by part, in nano-USD, with cost_nanousd their sum (zero for
-- events stored before).
ALTER TABLE request_events ADD COLUMN usage_source String DEFAULT 'provider';
ALTER TABLE request_events ADD COLUMN cost_input_nanousd UInt64 DEFAULT 0;
ALTER TABLE request_events ADD COLUMN cost_cached_nanousd UInt64 DEFAULT 0;
ALTER TABLE request_events ADD COLUMN cost_cache_write_nanousd UInt64 DEFAULT 0;
ALTER TABLE request_events ADD COLUMN cost_output_nanousd UInt64 DEFAULT 0;
