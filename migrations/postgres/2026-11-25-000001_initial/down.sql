DROP TABLE request_events;
DROP TABLE gateways;
DROP TABLE users;
