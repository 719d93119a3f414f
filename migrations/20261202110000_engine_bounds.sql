-- Bounded work: how many times a domain of an operation was claimed, so that a domain that never
-- converges (or whose observation keeps failing) ends with a precise error instead of being retried
-- forever.

ALTER TABLE operation_domains ADD COLUMN claims integer NOT NULL DEFAULT 0;
ALTER TABLE operation_domains ADD CONSTRAINT operation_domains_claims_check CHECK (claims >= 0);
COMMENT ON COLUMN operation_domains.claims IS 'How many times a worker claimed the item; the engine gives up past its limit.';

-- What became of each account of a domain that no journal step tells (a conflict, a blocker, an
-- account left alone because its access was revoked), so that an operation's result never
-- reports such an account as done.
ALTER TABLE operation_domains ADD COLUMN account_results jsonb NOT NULL DEFAULT '{}';
COMMENT ON COLUMN operation_domains.account_results IS 'Per account e-mail: {"result": CONFLICT|BLOCKED|SKIPPED_REVOKED, "detail": "..."} as the engine last planned it.';
