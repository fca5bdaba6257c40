ALTER TABLE gateways DROP COLUMN fallbacks;
