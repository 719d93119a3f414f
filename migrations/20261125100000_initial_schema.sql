-- The state of support-access: what the operators declared (domains, staff members, the desired
-- support accounts), the long-running operations that drive Google towards it with their journal
-- of steps, what was last observed in Google, manual confirmations, idempotency keys and the audit
-- log. Applied at start-up by `Store::connect` under sqlx's migration advisory lock.
--
-- Conventions: enums are upper-case text guarded by CHECK constraints (the Rust enums in
-- `crates/store` spell the same values); timestamps are timestamptz; constraints carry explicit
-- names because the store maps them to errors (`AlreadyExists("staff_members_username_key")`).
-- No secret is ever stored here: a domain names its credential, the key stays on the server.

-- ---------------------------------------------------------------------------------------------
-- Declarations
-- ---------------------------------------------------------------------------------------------

CREATE TABLE domains (
    domain_name      text        NOT NULL,
    display_name     text        NOT NULL DEFAULT '',
    credential       text        NOT NULL,
    delegated_admin  text        NOT NULL,
    org_unit_path    text        NOT NULL,
    role_mode        text        NOT NULL,
    custom_role_name text        NOT NULL,
    customer_id      text        NULL,
    create_time      timestamptz NOT NULL DEFAULT now(),
    update_time      timestamptz NOT NULL DEFAULT now(),
    revision         bigint      NOT NULL DEFAULT 1,
    CONSTRAINT domains_pkey PRIMARY KEY (domain_name),
    CONSTRAINT domains_domain_name_check CHECK (domain_name <> '' AND domain_name = lower(domain_name)),
    CONSTRAINT domains_credential_check CHECK (credential <> ''),
    CONSTRAINT domains_delegated_admin_check CHECK (delegated_admin <> ''),
    CONSTRAINT domains_org_unit_path_check CHECK (left(org_unit_path, 1) = '/'),
    CONSTRAINT domains_role_mode_check CHECK (role_mode IN ('RESELLER_ADMIN', 'CUSTOM_ROLE')),
    CONSTRAINT domains_revision_check CHECK (revision >= 1)
);
COMMENT ON TABLE domains IS 'Reseller domains declared through the API (resource domains/{domain_name}).';
COMMENT ON COLUMN domains.domain_name IS 'Primary DNS name, lower case, IDNA ASCII form; the natural key.';
COMMENT ON COLUMN domains.display_name IS 'Human-readable label; empty when not given.';
COMMENT ON COLUMN domains.credential IS 'Name of the service-account key configured on the server (never the key itself).';
COMMENT ON COLUMN domains.delegated_admin IS 'Super administrator impersonated through domain-wide delegation.';
COMMENT ON COLUMN domains.org_unit_path IS 'Full path of the org unit holding the support accounts, starting with /.';
COMMENT ON COLUMN domains.role_mode IS 'Role that opens the portal: RESELLER_ADMIN (system role) or CUSTOM_ROLE.';
COMMENT ON COLUMN domains.custom_role_name IS 'Name of the custom admin role used in CUSTOM_ROLE mode.';
COMMENT ON COLUMN domains.customer_id IS 'Google customer id (C...) learned on the first observation; NULL until then. Not part of the declaration: changing it leaves revision and update_time alone.';
COMMENT ON COLUMN domains.create_time IS 'When the domain was declared.';
COMMENT ON COLUMN domains.update_time IS 'When the declaration last changed; part of the etag.';
COMMENT ON COLUMN domains.revision IS 'Incremented on every change of the declaration; part of the etag.';

CREATE TABLE staff_members (
    id              text        NOT NULL,
    username        text        NOT NULL,
    given_name      text        NOT NULL,
    family_name     text        NOT NULL,
    workspace_email text        NOT NULL,
    create_time     timestamptz NOT NULL DEFAULT now(),
    update_time     timestamptz NOT NULL DEFAULT now(),
    revision        bigint      NOT NULL DEFAULT 1,
    CONSTRAINT staff_members_pkey PRIMARY KEY (id),
    CONSTRAINT staff_members_username_key UNIQUE (username),
    CONSTRAINT staff_members_id_check CHECK (id <> ''),
    CONSTRAINT staff_members_username_check CHECK (username <> '' AND username = lower(username)),
    CONSTRAINT staff_members_given_name_check CHECK (given_name <> ''),
    CONSTRAINT staff_members_family_name_check CHECK (family_name <> ''),
    CONSTRAINT staff_members_workspace_email_check CHECK (workspace_email <> ''),
    CONSTRAINT staff_members_revision_check CHECK (revision >= 1)
);
COMMENT ON TABLE staff_members IS 'Support staff declared through the API (resource staffMembers/{id}); each gets one account per domain.';
COMMENT ON COLUMN staff_members.id IS 'The id ending the resource name; the key.';
COMMENT ON COLUMN staff_members.username IS 'Local part of the account in every domain, lower case; unique, immutable.';
COMMENT ON COLUMN staff_members.given_name IS 'Given name as Google stores it.';
COMMENT ON COLUMN staff_members.family_name IS 'Family name as Google stores it.';
COMMENT ON COLUMN staff_members.workspace_email IS 'The person''s own Workspace address that case e-mail must reach.';
COMMENT ON COLUMN staff_members.create_time IS 'When the staff member was declared.';
COMMENT ON COLUMN staff_members.update_time IS 'When the declaration last changed; part of the etag.';
COMMENT ON COLUMN staff_members.revision IS 'Incremented on every change; part of the etag.';

CREATE TABLE support_accounts (
    domain_name     text        NOT NULL,
    staff_member_id text        NOT NULL,
    email           text        NOT NULL,
    google_user_id  text        NULL,
    desired         text        NOT NULL,
    revoke_mode     text        NULL,
    checks          jsonb       NULL,
    observe_time    timestamptz NULL,
    create_time     timestamptz NOT NULL DEFAULT now(),
    update_time     timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT support_accounts_pkey PRIMARY KEY (domain_name, staff_member_id),
    CONSTRAINT support_accounts_email_key UNIQUE (email),
    CONSTRAINT support_accounts_domain_fkey FOREIGN KEY (domain_name)
        REFERENCES domains (domain_name) ON DELETE CASCADE,
    CONSTRAINT support_accounts_staff_member_fkey FOREIGN KEY (staff_member_id)
        REFERENCES staff_members (id) ON DELETE CASCADE,
    CONSTRAINT support_accounts_email_check CHECK (email = lower(email) AND position('@' in email) > 1),
    CONSTRAINT support_accounts_desired_check CHECK (desired IN ('PRESENT', 'REVOKED')),
    CONSTRAINT support_accounts_revoke_mode_check CHECK (
        (desired = 'PRESENT' AND revoke_mode IS NULL)
        OR (desired = 'REVOKED' AND revoke_mode IN ('REMOVE_ROLE', 'SUSPEND', 'DELETE'))),
    CONSTRAINT support_accounts_observation_check CHECK ((checks IS NULL) = (observe_time IS NULL))
);
CREATE INDEX support_accounts_staff_member_idx ON support_accounts (staff_member_id);
COMMENT ON TABLE support_accounts IS 'Desired support accounts: one per (domain, staff member) that access was provisioned or revoked for, with the last observation of the account in Google.';
COMMENT ON COLUMN support_accounts.domain_name IS 'The reseller domain; rows go when the domain is deleted.';
COMMENT ON COLUMN support_accounts.staff_member_id IS 'The staff member; rows go when the staff member is deleted.';
COMMENT ON COLUMN support_accounts.email IS 'Primary address of the account, {username}@{domain_name}, lower case.';
COMMENT ON COLUMN support_accounts.google_user_id IS 'Google''s immutable user id once the account was created or found; NULL before.';
COMMENT ON COLUMN support_accounts.desired IS 'PRESENT: the account must open the portal; REVOKED: access must be taken away (see revoke_mode).';
COMMENT ON COLUMN support_accounts.revoke_mode IS 'For REVOKED accounts: REMOVE_ROLE, SUSPEND or DELETE; NULL for PRESENT.';
COMMENT ON COLUMN support_accounts.checks IS 'Account-level checks as last observed (JSON chosen by the server); NULL before the first observation.';
COMMENT ON COLUMN support_accounts.observe_time IS 'When checks were observed; NULL exactly when checks is NULL.';
COMMENT ON COLUMN support_accounts.create_time IS 'When the account was first desired.';
COMMENT ON COLUMN support_accounts.update_time IS 'When the desired state or google_user_id last changed.';

-- ---------------------------------------------------------------------------------------------
-- Operations, per-domain work items with leases, and the journal
-- ---------------------------------------------------------------------------------------------

CREATE TABLE operations (
    id               uuid        NOT NULL,
    seq              bigint      GENERATED ALWAYS AS IDENTITY,
    kind             text        NOT NULL,
    principal        text        NOT NULL,
    request_id       text        NULL,
    request          jsonb       NOT NULL DEFAULT '{}',
    validate_only    boolean     NOT NULL DEFAULT false,
    state            text        NOT NULL DEFAULT 'PENDING',
    done             boolean     GENERATED ALWAYS AS (state IN ('SUCCEEDED', 'FAILED', 'CANCELLED')) STORED,
    cancel_requested boolean     NOT NULL DEFAULT false,
    result           bytea       NULL,
    error            bytea       NULL,
    create_time      timestamptz NOT NULL DEFAULT now(),
    update_time      timestamptz NOT NULL DEFAULT now(),
    end_time         timestamptz NULL,
    CONSTRAINT operations_pkey PRIMARY KEY (id),
    CONSTRAINT operations_seq_key UNIQUE (seq),
    CONSTRAINT operations_kind_check CHECK (kind IN ('PROVISION', 'REVOKE')),
    CONSTRAINT operations_state_check CHECK (state IN ('PENDING', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED')),
    CONSTRAINT operations_end_time_check CHECK ((end_time IS NOT NULL) = (state IN ('SUCCEEDED', 'FAILED', 'CANCELLED'))),
    CONSTRAINT operations_outcome_check CHECK (
        (state = 'SUCCEEDED' OR result IS NULL) AND (state IN ('FAILED', 'CANCELLED') OR error IS NULL))
);
CREATE INDEX operations_unfinished_idx ON operations (seq) WHERE NOT done;
COMMENT ON TABLE operations IS 'Long-running provisioning and revoking operations (resource operations/{id}).';
COMMENT ON COLUMN operations.id IS 'Operation id, the {id} of operations/{id}.';
COMMENT ON COLUMN operations.seq IS 'Creation order; keyset for listing newest first and for claiming oldest first.';
COMMENT ON COLUMN operations.kind IS 'PROVISION or REVOKE.';
COMMENT ON COLUMN operations.principal IS 'The authenticated principal that started the operation.';
COMMENT ON COLUMN operations.request_id IS 'The caller''s idempotency key, when given (for tracing; the key itself lives in idempotency_keys).';
COMMENT ON COLUMN operations.request IS 'The parameters the engine needs (JSON chosen by the server, e.g. revoke mode and force).';
COMMENT ON COLUMN operations.validate_only IS 'True for a plan-only operation: nothing is done in Google.';
COMMENT ON COLUMN operations.state IS 'PENDING, RUNNING, SUCCEEDED, FAILED or CANCELLED.';
COMMENT ON COLUMN operations.done IS 'True once state is terminal (generated).';
COMMENT ON COLUMN operations.cancel_requested IS 'Set by CancelOperation; workers stop before the next step.';
COMMENT ON COLUMN operations.result IS 'Opaque encoded response (the server''s protobuf), only for SUCCEEDED.';
COMMENT ON COLUMN operations.error IS 'Opaque encoded error (the server''s google.rpc.Status), only for FAILED or CANCELLED.';
COMMENT ON COLUMN operations.create_time IS 'When the operation was created.';
COMMENT ON COLUMN operations.update_time IS 'When state, cancel_requested or the outcome last changed.';
COMMENT ON COLUMN operations.end_time IS 'When the operation finished; NULL exactly while it is not done.';

CREATE TABLE operation_domains (
    operation_id     uuid        NOT NULL,
    domain_name      text        NOT NULL,
    state            text        NOT NULL DEFAULT 'PENDING',
    message          text        NOT NULL DEFAULT '',
    lease_owner      text        NULL,
    lease_expires_at timestamptz NULL,
    fencing_token    bigint      NOT NULL DEFAULT 0,
    not_before       timestamptz NULL,
    update_time      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT operation_domains_pkey PRIMARY KEY (operation_id, domain_name),
    CONSTRAINT operation_domains_operation_fkey FOREIGN KEY (operation_id)
        REFERENCES operations (id) ON DELETE CASCADE,
    CONSTRAINT operation_domains_state_check CHECK (state IN ('PENDING', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED')),
    CONSTRAINT operation_domains_lease_check CHECK ((lease_owner IS NULL) = (lease_expires_at IS NULL)),
    CONSTRAINT operation_domains_fencing_token_check CHECK (fencing_token >= 0)
);
CREATE INDEX operation_domains_claimable_idx ON operation_domains (domain_name)
    WHERE state IN ('PENDING', 'RUNNING');
COMMENT ON TABLE operation_domains IS 'One work item per (operation, domain). A worker claims an item with a lease (FOR UPDATE SKIP LOCKED) so that one replica works on one domain at a time. No foreign key to domains: the history outlives a deleted domain.';
COMMENT ON COLUMN operation_domains.operation_id IS 'The operation.';
COMMENT ON COLUMN operation_domains.domain_name IS 'The reseller domain worked on.';
COMMENT ON COLUMN operation_domains.state IS 'PENDING (never claimed), RUNNING, SUCCEEDED, FAILED or CANCELLED.';
COMMENT ON COLUMN operation_domains.message IS 'Why the domain is blocked or failed, and what to do; empty otherwise.';
COMMENT ON COLUMN operation_domains.lease_owner IS 'Worker holding the lease; NULL when not leased.';
COMMENT ON COLUMN operation_domains.lease_expires_at IS 'When the lease lapses and another worker may take over; NULL when not leased.';
COMMENT ON COLUMN operation_domains.fencing_token IS 'Incremented on every claim; journal writes carrying an older token are refused.';
COMMENT ON COLUMN operation_domains.not_before IS 'Do not claim before this time (retry backoff); NULL means at once.';
COMMENT ON COLUMN operation_domains.update_time IS 'When the item last changed.';

CREATE TABLE steps (
    id              bigint      GENERATED ALWAYS AS IDENTITY,
    operation_id    uuid        NOT NULL,
    domain_name     text        NOT NULL,
    seq             integer     NOT NULL,
    account_email   text        NULL,
    staff_member_id text        NULL,
    action          text        NOT NULL,
    reason          text        NOT NULL DEFAULT '',
    payload         jsonb       NOT NULL DEFAULT '{}',
    state           text        NOT NULL DEFAULT 'PENDING',
    attempts        integer     NOT NULL DEFAULT 0,
    detail          text        NOT NULL DEFAULT '',
    google_effect   jsonb       NULL,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT steps_pkey PRIMARY KEY (id),
    CONSTRAINT steps_operation_seq_key UNIQUE (operation_id, seq),
    CONSTRAINT steps_operation_domain_fkey FOREIGN KEY (operation_id, domain_name)
        REFERENCES operation_domains (operation_id, domain_name) ON DELETE CASCADE,
    CONSTRAINT steps_seq_check CHECK (seq >= 1),
    CONSTRAINT steps_action_check CHECK (action IN (
        'CHECK_DELEGATED_ADMIN', 'CREATE_ORG_UNIT', 'CHECK_SUBSCRIPTION', 'ENSURE_ROLE',
        'CREATE_USER', 'UPDATE_USER', 'ASSIGN_LICENSE', 'REMOVE_PAID_LICENSE', 'ASSIGN_ROLE',
        'REMOVE_ROLE', 'SUSPEND_USER', 'DELETE_USER')),
    CONSTRAINT steps_state_check CHECK (state IN ('PENDING', 'RUNNING', 'DONE', 'SKIPPED', 'FAILED', 'CANCELLED')),
    CONSTRAINT steps_attempts_check CHECK (attempts >= 0)
);
CREATE INDEX steps_operation_domain_idx ON steps (operation_id, domain_name, seq);
COMMENT ON TABLE steps IS 'The journal: every planned step of an operation and what became of it. A crash resumes from here without repeating an effect.';
COMMENT ON COLUMN steps.id IS 'Surrogate key.';
COMMENT ON COLUMN steps.operation_id IS 'The operation.';
COMMENT ON COLUMN steps.domain_name IS 'The domain the step acts in; with operation_id, the work item whose lease fences writes.';
COMMENT ON COLUMN steps.seq IS 'Position in the operation''s plan, from 1; unique per operation.';
COMMENT ON COLUMN steps.account_email IS 'The account the step is about; NULL for domain-level steps.';
COMMENT ON COLUMN steps.staff_member_id IS 'The staff member owning that account; NULL for domain-level steps. No foreign key: history outlives staff.';
COMMENT ON COLUMN steps.action IS 'What the step does in Google (the StepAction enum without its prefix).';
COMMENT ON COLUMN steps.reason IS 'Why the step is needed, from what was observed.';
COMMENT ON COLUMN steps.payload IS 'Parameters of the action (JSON chosen by the engine).';
COMMENT ON COLUMN steps.state IS 'PENDING, RUNNING, DONE, SKIPPED, FAILED or CANCELLED.';
COMMENT ON COLUMN steps.attempts IS 'How many times Google was called for this step.';
COMMENT ON COLUMN steps.detail IS 'Outcome detail, error or required manual action (never a secret).';
COMMENT ON COLUMN steps.google_effect IS 'What Google returned for the effect (for example the created user id); NULL before.';
COMMENT ON COLUMN steps.updated_at IS 'When the step last changed.';

-- ---------------------------------------------------------------------------------------------
-- Observations and manual confirmations
-- ---------------------------------------------------------------------------------------------

CREATE TABLE domain_observations (
    domain_name  text        NOT NULL,
    observed     jsonb       NOT NULL,
    observe_time timestamptz NOT NULL,
    CONSTRAINT domain_observations_pkey PRIMARY KEY (domain_name),
    CONSTRAINT domain_observations_domain_fkey FOREIGN KEY (domain_name)
        REFERENCES domains (domain_name) ON DELETE CASCADE
);
COMMENT ON TABLE domain_observations IS 'The last observation of each domain in Google, served by GetDomainStatus without refresh.';
COMMENT ON COLUMN domain_observations.domain_name IS 'The domain observed.';
COMMENT ON COLUMN domain_observations.observed IS 'Domain-level checks as observed (JSON chosen by the server).';
COMMENT ON COLUMN domain_observations.observe_time IS 'When Google was observed.';

CREATE TABLE manual_confirmations (
    id              bigint      GENERATED ALWAYS AS IDENTITY,
    domain_name     text        NOT NULL,
    step            text        NOT NULL,
    staff_member_id text        NULL,
    note            text        NOT NULL DEFAULT '',
    principal       text        NOT NULL,
    confirm_time    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT manual_confirmations_pkey PRIMARY KEY (id),
    CONSTRAINT manual_confirmations_step_key UNIQUE NULLS NOT DISTINCT (domain_name, step, staff_member_id),
    CONSTRAINT manual_confirmations_domain_fkey FOREIGN KEY (domain_name)
        REFERENCES domains (domain_name) ON DELETE CASCADE,
    CONSTRAINT manual_confirmations_staff_member_fkey FOREIGN KEY (staff_member_id)
        REFERENCES staff_members (id) ON DELETE CASCADE,
    CONSTRAINT manual_confirmations_step_check CHECK (step IN (
        'AUTOMATIC_LICENSING_OFF', 'CLOUD_IDENTITY_FREE_SUBSCRIBED', 'MAIL_ROUTING')),
    CONSTRAINT manual_confirmations_scope_check CHECK (step = 'MAIL_ROUTING' OR staff_member_id IS NULL)
);
COMMENT ON TABLE manual_confirmations IS 'Steps without a Google API that an operator confirmed by hand (ConfirmManualStep); one row per (domain, step, staff member), a new confirmation replaces the old.';
COMMENT ON COLUMN manual_confirmations.id IS 'Surrogate key.';
COMMENT ON COLUMN manual_confirmations.domain_name IS 'The domain the step was done in.';
COMMENT ON COLUMN manual_confirmations.step IS 'AUTOMATIC_LICENSING_OFF, CLOUD_IDENTITY_FREE_SUBSCRIBED or MAIL_ROUTING.';
COMMENT ON COLUMN manual_confirmations.staff_member_id IS 'For MAIL_ROUTING of one account: its staff member; NULL for the whole domain.';
COMMENT ON COLUMN manual_confirmations.note IS 'What the operator did.';
COMMENT ON COLUMN manual_confirmations.principal IS 'Who confirmed.';
COMMENT ON COLUMN manual_confirmations.confirm_time IS 'When.';

-- ---------------------------------------------------------------------------------------------
-- Idempotency and audit
-- ---------------------------------------------------------------------------------------------

CREATE TABLE idempotency_keys (
    request_id          text        NOT NULL,
    method              text        NOT NULL,
    request_fingerprint text        NOT NULL,
    response            bytea       NULL,
    create_time         timestamptz NOT NULL DEFAULT now(),
    complete_time       timestamptz NULL,
    CONSTRAINT idempotency_keys_pkey PRIMARY KEY (request_id),
    CONSTRAINT idempotency_keys_request_id_check CHECK (request_id <> ''),
    CONSTRAINT idempotency_keys_fingerprint_check CHECK (request_fingerprint ~ '^[0-9a-f]{64}$'),
    CONSTRAINT idempotency_keys_completion_check CHECK ((response IS NULL) = (complete_time IS NULL))
);
CREATE INDEX idempotency_keys_create_time_idx ON idempotency_keys (create_time);
COMMENT ON TABLE idempotency_keys IS 'Request ids of mutating calls (AIP-155), claimed in the same transaction as the call''s effect; kept at least 24 hours, then purged.';
COMMENT ON COLUMN idempotency_keys.request_id IS 'The caller''s request id; global, not per principal.';
COMMENT ON COLUMN idempotency_keys.method IS 'The full gRPC method that claimed the id.';
COMMENT ON COLUMN idempotency_keys.request_fingerprint IS 'SHA-256 (hex) of the canonical request; the same id with another request is refused.';
COMMENT ON COLUMN idempotency_keys.response IS 'Opaque encoded response replayed to retries; NULL while the first call has not completed or when the method never replays.';
COMMENT ON COLUMN idempotency_keys.create_time IS 'When the id was first claimed; purge age counts from here.';
COMMENT ON COLUMN idempotency_keys.complete_time IS 'When the response was stored; NULL exactly when response is NULL.';

CREATE TABLE audit_events (
    id          bigint      GENERATED ALWAYS AS IDENTITY,
    event_time  timestamptz NOT NULL DEFAULT clock_timestamp(),
    principal   text        NOT NULL,
    method      text        NOT NULL,
    request_id  text        NULL,
    domain_name text        NULL,
    target      text        NOT NULL DEFAULT '',
    outcome     text        NOT NULL,
    detail      text        NOT NULL DEFAULT '',
    CONSTRAINT audit_events_pkey PRIMARY KEY (id),
    CONSTRAINT audit_events_principal_check CHECK (principal <> ''),
    CONSTRAINT audit_events_method_check CHECK (method <> ''),
    CONSTRAINT audit_events_outcome_check CHECK (outcome <> '')
);
CREATE INDEX audit_events_method_idx ON audit_events (method, id DESC);
CREATE INDEX audit_events_domain_idx ON audit_events (domain_name, id DESC) WHERE domain_name IS NOT NULL;
CREATE INDEX audit_events_principal_idx ON audit_events (principal, id DESC);
CREATE INDEX audit_events_event_time_idx ON audit_events (event_time DESC);
COMMENT ON TABLE audit_events IS 'Append-only audit log: mutating RPCs and the service''s own writes in Google. No foreign keys: the log outlives what it names.';
COMMENT ON COLUMN audit_events.id IS 'Increasing id; the keyset for listing newest first (resource auditEvents/{id}).';
COMMENT ON COLUMN audit_events.event_time IS 'When it happened.';
COMMENT ON COLUMN audit_events.principal IS 'The authenticated principal, or system for the service''s own Google writes.';
COMMENT ON COLUMN audit_events.method IS 'The gRPC method or Google method (directory.users.insert).';
COMMENT ON COLUMN audit_events.request_id IS 'The caller''s request id, when given.';
COMMENT ON COLUMN audit_events.domain_name IS 'The reseller domain concerned (bare name), when there is one.';
COMMENT ON COLUMN audit_events.target IS 'The resource or account acted on.';
COMMENT ON COLUMN audit_events.outcome IS 'OK, or the gRPC / Google error code.';
COMMENT ON COLUMN audit_events.detail IS 'More detail, never a secret.';
