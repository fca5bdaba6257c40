-- Per gateway: its rate limits and budgets, as JSON
-- {"rpm": 600, "tpm": 200000, "max_concurrent": 20, "daily_budget_nanousd": 5000000000, ...}.
ALTER TABLE gateways ADD COLUMN limits TEXT NOT NULL DEFAULT '{}';
-- The client addresses (CIDRs) the gateway takes calls from, as a JSON array; [] takes any.
ALTER TABLE gateways ADD COLUMN allowed_ips TEXT NOT NULL DEFAULT '[]';
