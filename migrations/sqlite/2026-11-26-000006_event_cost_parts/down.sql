ALTER TABLE request_events DROP COLUMN cost_output_nanousd;
ALTER TABLE request_events DROP COLUMN cost_cache_write_nanousd;
ALTER TABLE request_events DROP COLUMN cost_cached_nanousd;
ALTER TABLE request_events DROP COLUMN cost_input_nanousd;
ALTER TABLE request_events DROP COLUMN usage_source;
