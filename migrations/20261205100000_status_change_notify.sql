-- Every replica keeps the `GetDomainStatus` answers it built in memory, and must hear at once
-- when one of them no longer holds. So every write to a row that answer is built from announces
-- its domain on the channel `support_access_status` (delivered to listeners when the writing
-- transaction commits, never if it rolls back; Postgres sends a payload once per transaction
-- however many rows repeat it). `*` means every domain: a staff member shows in all of them.
--
-- The answer is built from the domain's declaration and reconcile times (domains), its
-- decisions (support_accounts), today's manual confirmations, the steps of its unfinished
-- operations, its last observation (domain_observations), its drift (drift_events) and the
-- staff members' names and addresses. The same conditions as the freshness triggers of
-- 20261204200000_status_change_marker.sql keep the engine's bookkeeping writes quiet.

CREATE FUNCTION status_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM pg_notify('support_access_status', OLD.domain_name);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        PERFORM pg_notify('support_access_status', NEW.domain_name);
    END IF;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION status_notify() IS 'Announces on support_access_status the domain of a row its status answer is built from (AFTER ROW trigger).';

CREATE FUNCTION status_notify_every_domain() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('support_access_status', '*');
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION status_notify_every_domain() IS 'Announces on support_access_status that every domain''s status answer changed (statement-level trigger).';

CREATE FUNCTION status_notify_operation_finished() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('support_access_status', domain_name)
    FROM operation_domains WHERE operation_id = NEW.id;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION status_notify_operation_finished() IS 'Announces on support_access_status every domain of an operation that just finished (its steps leave their status).';

CREATE TRIGGER domains_status_notify AFTER INSERT OR UPDATE OR DELETE ON domains
    FOR EACH ROW EXECUTE FUNCTION status_notify();

CREATE TRIGGER support_accounts_status_notify_write AFTER INSERT OR DELETE ON support_accounts
    FOR EACH ROW EXECUTE FUNCTION status_notify();
CREATE TRIGGER support_accounts_status_notify_update AFTER UPDATE ON support_accounts
    FOR EACH ROW
    WHEN (OLD.status_xid IS DISTINCT FROM NEW.status_xid OR OLD.domain_name IS DISTINCT FROM NEW.domain_name)
    EXECUTE FUNCTION status_notify();

CREATE TRIGGER manual_confirmations_status_notify AFTER INSERT OR UPDATE OR DELETE ON manual_confirmations
    FOR EACH ROW EXECUTE FUNCTION status_notify();

CREATE TRIGGER steps_status_notify_write AFTER INSERT OR DELETE ON steps
    FOR EACH ROW EXECUTE FUNCTION status_notify();
CREATE TRIGGER steps_status_notify_update AFTER UPDATE ON steps
    FOR EACH ROW
    WHEN (OLD.status_xid IS DISTINCT FROM NEW.status_xid OR OLD.domain_name IS DISTINCT FROM NEW.domain_name)
    EXECUTE FUNCTION status_notify();

CREATE TRIGGER domain_observations_status_notify AFTER INSERT OR UPDATE OR DELETE ON domain_observations
    FOR EACH ROW EXECUTE FUNCTION status_notify();

CREATE TRIGGER drift_events_status_notify AFTER INSERT OR UPDATE OR DELETE ON drift_events
    FOR EACH ROW EXECUTE FUNCTION status_notify();

CREATE TRIGGER staff_members_status_notify AFTER INSERT OR UPDATE OR DELETE ON staff_members
    FOR EACH STATEMENT EXECUTE FUNCTION status_notify_every_domain();

CREATE TRIGGER operations_status_notify_done AFTER UPDATE ON operations
    FOR EACH ROW WHEN (OLD.done IS DISTINCT FROM NEW.done)
    EXECUTE FUNCTION status_notify_operation_finished();
