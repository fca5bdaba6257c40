-- Each failed attempt before the last (retries with another key, models fallen back
-- from), as a JSON array of {provider, model, error}, or '' when the first attempt
-- answered. Prompt tokens written to the provider's cache (part of tokens_prompt,
-- priced apart) and reasoning tokens (part of tokens_completion). The daily rollup's
-- view selects named columns, so new columns of request_events leave it as it is.
ALTER TABLE request_events ADD COLUMN failed_attempts String DEFAULT '';
ALTER TABLE request_events ADD COLUMN tokens_cache_write UInt64 DEFAULT 0;
ALTER TABLE request_events ADD COLUMN tokens_reasoning UInt64 DEFAULT 0;
