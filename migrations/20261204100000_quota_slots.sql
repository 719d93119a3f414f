-- One row per Google quota that is counted for the whole Cloud project (Licensing, Reseller):
-- the earliest time the next request of any replica may be sent. Each call reserves its slot
-- with one UPDATE (store::quota_slots::reserve), so replicas sharing a project never offer
-- Google more than the quota between them, instead of each pacing it alone.
CREATE TABLE quota_slots (
    quota text PRIMARY KEY CHECK (length(quota) BETWEEN 1 AND 200),
    next_slot timestamptz NOT NULL
);
