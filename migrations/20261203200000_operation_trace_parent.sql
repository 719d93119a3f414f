-- Traces: an operation remembers the trace of the request that started it, so that the engine's
-- work on it (claims, Google calls, log lines) joins that trace instead of starting a new one.

ALTER TABLE operations ADD COLUMN trace_parent text NULL;
COMMENT ON COLUMN operations.trace_parent IS 'W3C traceparent of the RPC that started the operation (version-traceid-spanid-flags); NULL when it was not traced (no exporter) or not started by an RPC (reconciliation).';
