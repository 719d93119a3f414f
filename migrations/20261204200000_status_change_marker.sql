-- A status snapshot's freshness checked in constant time, whatever the size of the domain.
--
-- Before, a read summed a hash over every account of the domain, every staff member and every
-- unfinished step of the domain to compare with the snapshot's fingerprint: O(accounts) per read.
-- Now every row the status reads carries the id of the transaction that last changed what the
-- status reads of it (`status_xid`, set by a trigger, so no writer can forget it), and a deleted
-- row leaves a marker in `status_input_changes`. A snapshot remembers which transactions were
-- visible when its inputs were read (`inputs_snapshot`, `pg_current_snapshot()` read before
-- them). So the snapshot is stale exactly when some input row or marker of the domain carries a
-- transaction id that snapshot could not see (`pg_visible_in_snapshot`): only ids at or after
-- its xmin can be such, so that is an index range probe per input, empty for a domain nothing
-- wrote to since.
--
-- The columns of the fingerprint that are one row anyway (the declaration's revision, the
-- observation's time) stay in `fingerprint`.

CREATE FUNCTION status_input_touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.status_xid := pg_current_xact_id();
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION status_input_touch() IS 'Stamps a row the domain status reads with the writing transaction''s id.';

CREATE TABLE status_input_changes (
    domain_name text NOT NULL,
    xid         xid8 NOT NULL,
    CONSTRAINT status_input_changes_pkey PRIMARY KEY (domain_name, xid)
);
COMMENT ON TABLE status_input_changes IS 'Rows the domain status read that were deleted (or stopped counting: the steps of an operation that finished), by domain and deleting transaction. Pruned when the domain''s snapshot is saved: markers older than every transaction the saved snapshot could miss.';

CREATE FUNCTION status_input_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO status_input_changes (domain_name, xid)
    SELECT DISTINCT domain_name, pg_current_xact_id() FROM old_rows
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION status_input_deleted() IS 'Leaves a change marker for every domain that lost rows its status read (statement-level, transition table old_rows).';

-- Decisions: what status_input_hash covers, and the decision's time.
ALTER TABLE support_accounts ADD COLUMN status_xid xid8 NOT NULL DEFAULT '0';
COMMENT ON COLUMN support_accounts.status_xid IS 'Transaction that last changed what the status reads of this decision (set by trigger).';
CREATE TRIGGER support_accounts_status_insert BEFORE INSERT ON support_accounts
    FOR EACH ROW EXECUTE FUNCTION status_input_touch();
CREATE TRIGGER support_accounts_status_update BEFORE UPDATE ON support_accounts
    FOR EACH ROW
    WHEN ((OLD.email, OLD.desired, OLD.revoke_mode, OLD.ownership, OLD.google_user_id,
           OLD.adopt_user_id, OLD.update_time)
          IS DISTINCT FROM
          (NEW.email, NEW.desired, NEW.revoke_mode, NEW.ownership, NEW.google_user_id,
           NEW.adopt_user_id, NEW.update_time))
    EXECUTE FUNCTION status_input_touch();
CREATE TRIGGER support_accounts_status_delete AFTER DELETE ON support_accounts
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION status_input_deleted();
CREATE INDEX support_accounts_status_xid_idx ON support_accounts (domain_name, status_xid);

-- Staff members: names and addresses every domain's accounts show. Their deletion deletes their
-- accounts and confirmations, which leave their own markers.
ALTER TABLE staff_members ADD COLUMN status_xid xid8 NOT NULL DEFAULT '0';
COMMENT ON COLUMN staff_members.status_xid IS 'Transaction that last wrote the staff member (set by trigger).';
CREATE TRIGGER staff_members_status_write BEFORE INSERT OR UPDATE ON staff_members
    FOR EACH ROW EXECUTE FUNCTION status_input_touch();
CREATE INDEX staff_members_status_xid_idx ON staff_members (status_xid);

-- Manual confirmations.
ALTER TABLE manual_confirmations ADD COLUMN status_xid xid8 NOT NULL DEFAULT '0';
COMMENT ON COLUMN manual_confirmations.status_xid IS 'Transaction that last wrote the confirmation (set by trigger).';
CREATE TRIGGER manual_confirmations_status_write BEFORE INSERT OR UPDATE ON manual_confirmations
    FOR EACH ROW EXECUTE FUNCTION status_input_touch();
CREATE TRIGGER manual_confirmations_status_delete AFTER DELETE ON manual_confirmations
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION status_input_deleted();
CREATE INDEX manual_confirmations_status_xid_idx ON manual_confirmations (domain_name, status_xid);

-- Steps: the status lays the pending, running and failed steps of unfinished operations over
-- the observation.
ALTER TABLE steps ADD COLUMN status_xid xid8 NOT NULL DEFAULT '0';
COMMENT ON COLUMN steps.status_xid IS 'Transaction that last changed the step''s state, payload or detail (set by trigger).';
CREATE TRIGGER steps_status_insert BEFORE INSERT ON steps
    FOR EACH ROW EXECUTE FUNCTION status_input_touch();
CREATE TRIGGER steps_status_update BEFORE UPDATE ON steps
    FOR EACH ROW
    WHEN ((OLD.state, OLD.payload, OLD.detail) IS DISTINCT FROM (NEW.state, NEW.payload, NEW.detail))
    EXECUTE FUNCTION status_input_touch();
CREATE TRIGGER steps_status_delete AFTER DELETE ON steps
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION status_input_deleted();
CREATE INDEX steps_status_xid_idx ON steps (domain_name, status_xid);

-- An operation that finishes takes its steps out of the status of every domain it worked in.
CREATE FUNCTION status_operation_finished() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO status_input_changes (domain_name, xid)
    SELECT domain_name, pg_current_xact_id() FROM operation_domains WHERE operation_id = NEW.id
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION status_operation_finished() IS 'Leaves a change marker for every domain of an operation that just finished.';
CREATE TRIGGER operations_status_done AFTER UPDATE ON operations
    FOR EACH ROW WHEN (OLD.done IS DISTINCT FROM NEW.done)
    EXECUTE FUNCTION status_operation_finished();

-- The snapshot's side. Snapshots taken before have no inputs_xmin: computed again on their next
-- read; their old fingerprints (with the O(accounts) sums) are dropped with them.
DELETE FROM domain_status_snapshots;
ALTER TABLE domain_status_snapshots ADD COLUMN inputs_snapshot pg_snapshot NOT NULL;
COMMENT ON COLUMN domain_status_snapshots.inputs_snapshot IS 'The transactions visible when the snapshot''s inputs were read (taken before them): a change by a transaction it does not see makes the snapshot stale.';
COMMENT ON COLUMN domain_status_snapshots.fingerprint IS 'The one-row inputs the status was computed from (declaration revision, observation time); a different one means the snapshot is stale. Changes to the other inputs are found through inputs_snapshot.';

-- What the old fingerprint needed.
DROP INDEX support_accounts_status_inputs_idx;
ALTER TABLE support_accounts DROP COLUMN status_input_hash;
DROP INDEX manual_confirmations_domain_idx;
DROP INDEX staff_members_revision_idx;
