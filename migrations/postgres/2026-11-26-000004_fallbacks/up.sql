-- Per gateway: the models tried, in order, when every key of a requested model fails.
-- A JSON object: {"gpt-4o": ["anthropic/claude-sonnet-4-5", ...]}.
ALTER TABLE gateways ADD COLUMN fallbacks TEXT NOT NULL DEFAULT '{}';
