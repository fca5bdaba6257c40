-- Whether an event's cost is known (0: the model had no price, so its cost is not
-- zero but unknown), and the machine code of a failure beside its OpenAI error type.
-- Every event stored before this migration was priced.
ALTER TABLE request_events ADD COLUMN priced SMALLINT NOT NULL DEFAULT 1;
ALTER TABLE request_events ADD COLUMN error_code TEXT;
