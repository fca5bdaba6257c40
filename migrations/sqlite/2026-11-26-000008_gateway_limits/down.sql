ALTER TABLE gateways DROP COLUMN allowed_ips;
ALTER TABLE gateways DROP COLUMN limits;
