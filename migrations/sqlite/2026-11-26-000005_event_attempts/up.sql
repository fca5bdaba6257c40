-- Each failed attempt before the last (retries with another key, models fallen back
-- from), as a JSON array of {provider, model, error}; NULL when the first attempt answered.
ALTER TABLE request_events ADD COLUMN failed_attempts TEXT;
-- Prompt tokens written to the provider's cache (part of tokens_prompt, priced apart),
-- and reasoning tokens (part of tokens_completion).
ALTER TABLE request_events ADD COLUMN tokens_cache_write BIGINT NOT NULL DEFAULT 0;
ALTER TABLE request_events ADD COLUMN tokens_reasoning BIGINT NOT NULL DEFAULT 0;
