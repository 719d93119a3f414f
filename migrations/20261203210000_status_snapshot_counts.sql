-- Bounded reads: GetDomainStatus reads its counts from the snapshot row instead of aggregating
-- every account of the domain on each call. The counts are computed with the snapshot, from the
-- same report, so they always agree with its fingerprint.

ALTER TABLE domain_status_snapshots
    ADD COLUMN account_counts jsonb NOT NULL DEFAULT '[]',
    ADD COLUMN manual_counts  jsonb NOT NULL DEFAULT '[]';
COMMENT ON COLUMN domain_status_snapshots.account_counts IS 'The accounts counted by (state, desired): [{"state": …, "desired": …, "count": …}], state NULL for UNSPECIFIED.';
COMMENT ON COLUMN domain_status_snapshots.manual_counts IS 'The account-level checks waiting for a person, per kind: [{"kind": …, "count": …, "first_email": …, "manual_action": …}].';

-- Snapshots taken before have no counts: computed again on their next read.
DELETE FROM domain_status_snapshots;

-- The fingerprint a read compares with the snapshot's, made cheap: what the status reads of each
-- decision is hashed once when the row is written (a stored column) instead of on every read, and
-- the sums come from index-only scans of narrow indexes. A change to any staff member (names,
-- the address case e-mail must reach) changes every domain's fingerprint: staff changes are rare.
ALTER TABLE support_accounts ADD COLUMN status_input_hash bigint GENERATED ALWAYS AS (
    hashtext(email || ' ' || desired || ' ' || coalesce(revoke_mode, '') || ' ' || ownership
             || ' ' || coalesce(google_user_id, '') || ' ' || coalesce(adopt_user_id, ''))::bigint
) STORED;
COMMENT ON COLUMN support_accounts.status_input_hash IS 'Hash of what the status reads of this decision (address, desired access, revoke mode, ownership, Google ids); summed into the status fingerprint.';
CREATE INDEX support_accounts_status_inputs_idx
    ON support_accounts (domain_name) INCLUDE (status_input_hash, update_time);
CREATE INDEX manual_confirmations_domain_idx
    ON manual_confirmations (domain_name) INCLUDE (id, confirm_time);
CREATE INDEX staff_members_revision_idx ON staff_members (revision);
