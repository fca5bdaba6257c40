ALTER TABLE request_events DROP COLUMN error_code;
ALTER TABLE request_events DROP COLUMN priced;
