-- A gateway's own provider keys (BYOK). The key is stored only encrypted:
-- AES-256-GCM under MASTER_KEY, a random nonce per key, the key id bound as
-- associated data. Only the hint is ever shown.
CREATE TABLE provider_keys (
    id TEXT PRIMARY KEY NOT NULL,
    gateway_id TEXT NOT NULL REFERENCES gateways (id) ON DELETE CASCADE,
    provider TEXT NOT NULL,
    label TEXT NOT NULL,
    key_hint TEXT NOT NULL,
    sealed_key TEXT NOT NULL,
    -- 'active', or 'invalid' once the provider refused it (401/403).
    status TEXT NOT NULL,
    last_used_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX provider_keys_gateway ON provider_keys (gateway_id, created_at);
