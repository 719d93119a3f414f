-- Ownership and lifecycle: what the service owns in Google, what is decided per (domain, staff
-- member) and by whom, continuous reconciliation with drift events, and the rolling window of
-- the mass-change limit. See the README's "Ownership and lifecycle".

-- ---------------------------------------------------------------------------------------------
-- Support accounts: a durable decision (ACTIVE or REVOKED, by whom, when, why) and ownership.
-- ---------------------------------------------------------------------------------------------

ALTER TABLE support_accounts DROP CONSTRAINT support_accounts_desired_check;
ALTER TABLE support_accounts DROP CONSTRAINT support_accounts_revoke_mode_check;
UPDATE support_accounts SET desired = 'ACTIVE' WHERE desired = 'PRESENT';
ALTER TABLE support_accounts
    ADD CONSTRAINT support_accounts_desired_check CHECK (desired IN ('ACTIVE', 'REVOKED')),
    ADD CONSTRAINT support_accounts_revoke_mode_check CHECK (
        (desired = 'ACTIVE' AND revoke_mode IS NULL)
        OR (desired = 'REVOKED' AND revoke_mode IN ('REMOVE_ROLE', 'SUSPEND', 'DELETE')));

ALTER TABLE support_accounts
    ADD COLUMN ownership       text        NOT NULL DEFAULT 'NOT_OWNED',
    ADD COLUMN decided_by      text        NOT NULL DEFAULT 'system',
    ADD COLUMN decide_time     timestamptz NOT NULL DEFAULT now(),
    ADD COLUMN decision_reason text        NOT NULL DEFAULT '',
    ADD COLUMN adopt_user_id   text        NULL,
    ADD CONSTRAINT support_accounts_ownership_check CHECK (ownership IN ('NOT_OWNED', 'CREATED', 'ADOPTED')),
    ADD CONSTRAINT support_accounts_owned_id_check CHECK (ownership = 'NOT_OWNED' OR google_user_id IS NOT NULL);
-- Accounts created before this migration were created by the service, but carry no marker in
-- Google yet: approving their adoption makes the next operation write the marker (they stay
-- CREATED).
UPDATE support_accounts SET ownership = 'CREATED', adopt_user_id = google_user_id
    WHERE google_user_id IS NOT NULL;
CREATE INDEX support_accounts_revoked_idx ON support_accounts (domain_name, decide_time)
    WHERE desired = 'REVOKED';

COMMENT ON COLUMN support_accounts.desired IS 'ACTIVE: the account must open the portal; REVOKED: access was taken away (see revoke_mode) and only an explicit re-grant gives it back.';
COMMENT ON COLUMN support_accounts.google_user_id IS 'Google''s immutable id of the account the service owns (see ownership); NULL before it owns one.';
COMMENT ON COLUMN support_accounts.ownership IS 'NOT_OWNED, CREATED (the service created it; the account carries the service''s externalIds marker) or ADOPTED (an operator adopted it). The service writes only to owned accounts.';
COMMENT ON COLUMN support_accounts.decided_by IS 'The principal whose request made the current decision (desired, revoke_mode).';
COMMENT ON COLUMN support_accounts.decide_time IS 'When the current decision was made; for REVOKED rows the start of the mass-change window.';
COMMENT ON COLUMN support_accounts.decision_reason IS 'Why, when the request said (re-grant and adoption require a reason).';
COMMENT ON COLUMN support_accounts.adopt_user_id IS 'Google user id an operator approved for adoption (AdoptSupportAccount), until the engine marked it; NULL otherwise.';

-- ---------------------------------------------------------------------------------------------
-- Domains: repair policy and the reconcile schedule.
-- ---------------------------------------------------------------------------------------------

ALTER TABLE domains
    ADD COLUMN repair_policy       text        NOT NULL DEFAULT 'REPAIR',
    ADD COLUMN last_reconcile_time timestamptz NULL,
    ADD COLUMN next_reconcile_time timestamptz NULL,
    ADD CONSTRAINT domains_repair_policy_check CHECK (repair_policy IN ('REPAIR', 'REPORT_ONLY'));
CREATE INDEX domains_next_reconcile_idx ON domains (next_reconcile_time);
COMMENT ON COLUMN domains.repair_policy IS 'REPAIR: reconciliation repairs drift of owned accounts; REPORT_ONLY: it only records drift.';
COMMENT ON COLUMN domains.last_reconcile_time IS 'When a reconcile operation last finished for the domain; not part of the declaration.';
COMMENT ON COLUMN domains.next_reconcile_time IS 'When the next reconcile operation is due (jittered); NULL means at once.';

-- ---------------------------------------------------------------------------------------------
-- Operations: reconciliation is an operation like the others.
-- ---------------------------------------------------------------------------------------------

ALTER TABLE operations DROP CONSTRAINT operations_kind_check;
ALTER TABLE operations ADD CONSTRAINT operations_kind_check CHECK (kind IN ('PROVISION', 'REVOKE', 'RECONCILE'));

-- ---------------------------------------------------------------------------------------------
-- Drift events.
-- ---------------------------------------------------------------------------------------------

CREATE TABLE drift_events (
    id               bigint      GENERATED ALWAYS AS IDENTITY,
    domain_name      text        NOT NULL,
    kind             text        NOT NULL,
    account_email    text        NOT NULL DEFAULT '',
    staff_member_id  text        NULL,
    detail           text        NOT NULL,
    evidence         jsonb       NOT NULL DEFAULT '{}',
    detect_time      timestamptz NOT NULL DEFAULT now(),
    resolve_time     timestamptz NULL,
    repair_operation uuid        NULL,
    CONSTRAINT drift_events_pkey PRIMARY KEY (id),
    CONSTRAINT drift_events_domain_fkey FOREIGN KEY (domain_name)
        REFERENCES domains (domain_name) ON DELETE CASCADE,
    CONSTRAINT drift_events_kind_check CHECK (kind IN (
        'ACCOUNT_MOVED', 'ACCOUNT_ROLE_REMOVED', 'ACCOUNT_PAID_LICENSE_ADDED',
        'ACCOUNT_LICENSE_REMOVED', 'ACCOUNT_SUSPENDED', 'ACCOUNT_DELETED',
        'REVOKED_ACCOUNT_REENABLED', 'REVOKED_ACCOUNT_REGAINED_ACCESS', 'UNMANAGED_PORTAL_ACCESS',
        'CONFIRMATION_CONTRADICTED', 'OWNERSHIP_LOST')),
    CONSTRAINT drift_events_repair_check CHECK (repair_operation IS NULL OR resolve_time IS NOT NULL)
);
-- At most one open event per (domain, kind, account).
CREATE UNIQUE INDEX drift_events_open_key ON drift_events (domain_name, kind, account_email)
    WHERE resolve_time IS NULL;
CREATE INDEX drift_events_domain_idx ON drift_events (domain_name, id DESC);
COMMENT ON TABLE drift_events IS 'Differences between Google and the desired state found by reconciliation (resource domains/{domain}/driftEvents/{id}).';
COMMENT ON COLUMN drift_events.kind IS 'What drifted (the DriftKind of the API without its prefix).';
COMMENT ON COLUMN drift_events.account_email IS 'The account concerned; empty for a domain-level event.';
COMMENT ON COLUMN drift_events.staff_member_id IS 'The staff member of a managed account; NULL otherwise. No foreign key: history outlives the staff member.';
COMMENT ON COLUMN drift_events.evidence IS 'What Google showed: a flat JSON object of strings (ids, org unit, role, SKU).';
COMMENT ON COLUMN drift_events.resolve_time IS 'When Google matched again; NULL while open.';
COMMENT ON COLUMN drift_events.repair_operation IS 'The operation whose writes repaired it; NULL when nothing of the service repaired it.';
