-- Bounded reads: a finished operation's journal no longer changes, so its step counts per domain
-- are kept when it finishes and GetOperation reads them instead of counting every step again.

ALTER TABLE operation_domains ADD COLUMN step_counts jsonb NULL;
COMMENT ON COLUMN operation_domains.step_counts IS 'The domain''s steps counted per state ({"pending": n, "running": n, "done": n, "skipped": n, "failed": n, "cancelled": n}), kept when the operation finished; NULL while it runs (then they are counted from steps).';
