ALTER TABLE request_events DROP COLUMN tokens_reasoning;
ALTER TABLE request_events DROP COLUMN tokens_cache_write;
ALTER TABLE request_events DROP COLUMN failed_attempts;
