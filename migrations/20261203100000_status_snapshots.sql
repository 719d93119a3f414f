-- Bounded reads: GetDomainStatus answers counts and ListSupportAccounts filters by state in SQL,
-- from a snapshot of the status the server computes from the last observation, the decisions,
-- the confirmations and the unfinished steps. The snapshot carries a fingerprint of those inputs;
-- a reader whose fingerprint differs computes it again (see the server's api/status.rs).

CREATE TABLE domain_status_snapshots (
    domain_name  text        NOT NULL,
    fingerprint  text        NOT NULL,
    state        text        NULL,
    checks       jsonb       NOT NULL,
    observe_time timestamptz NULL,
    compute_time timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT domain_status_snapshots_pkey PRIMARY KEY (domain_name),
    CONSTRAINT domain_status_snapshots_domain_fkey FOREIGN KEY (domain_name)
        REFERENCES domains (domain_name) ON DELETE CASCADE,
    CONSTRAINT domain_status_snapshots_state_check CHECK (state IN (
        'OK', 'MISSING', 'DRIFTED', 'PENDING', 'MANUAL_ACTION_REQUIRED', 'ERROR', 'CONFLICT'))
);
COMMENT ON TABLE domain_status_snapshots IS 'The last computed status of each domain (domain-level part; the accounts'' part is in support_accounts.state and .checks).';
COMMENT ON COLUMN domain_status_snapshots.fingerprint IS 'What the status was computed from (observation time, decisions, confirmations, unfinished steps, declaration); a different one means the snapshot is stale.';
COMMENT ON COLUMN domain_status_snapshots.state IS 'The summary state as the API shows it, without its CHECK_STATE_ prefix; NULL (UNSPECIFIED) while the domain was never observed.';
COMMENT ON COLUMN domain_status_snapshots.checks IS 'The domain-level checks (JSON chosen by the server).';
COMMENT ON COLUMN domain_status_snapshots.observe_time IS 'When Google was observed for these checks; NULL when never.';

-- The account's part of the snapshot: written with the domain's snapshot, in the same transaction.
ALTER TABLE support_accounts DROP CONSTRAINT support_accounts_observation_check;
ALTER TABLE support_accounts
    ADD COLUMN state text NULL,
    ADD CONSTRAINT support_accounts_state_check CHECK (state IN (
        'OK', 'MISSING', 'DRIFTED', 'PENDING', 'MANUAL_ACTION_REQUIRED', 'ERROR', 'CONFLICT'));
CREATE INDEX support_accounts_domain_state_idx ON support_accounts (domain_name, state, email);
COMMENT ON COLUMN support_accounts.state IS 'The account''s summary state as ListSupportAccounts shows it, without its CHECK_STATE_ prefix; NULL (UNSPECIFIED) for a REVOKED account, or while its domain was never observed.';
COMMENT ON COLUMN support_accounts.checks IS 'The account-level checks of the last status snapshot (JSON chosen by the server); NULL for a REVOKED account or before the first snapshot.';
COMMENT ON COLUMN support_accounts.observe_time IS 'When Google was observed for checks; NULL when never.';
