-- ngx_compensation: the PostgreSQL query benchmark's seed (bench/pg-query.sh):
-- bench/query-seed.sql's 1,000,000 executions in PostgreSQL's SQL, the same
-- distribution (per 1000: 960 SUCCEEDED of which 5 deleted, 10 FAILED
-- retryable of which 2 due, 2 PREPARED, 20 Non Retryable, 8 UNRECOVERABLE).
-- psql -v now=<epoch ms>

BEGIN;
-- the count rollup's trigger (schema version 3) would upsert a counter row
-- for each of the million rows: it is filled once, after, instead
ALTER TABLE snapshot DISABLE TRIGGER snapshot_count_rows;
WITH r AS (
  SELECT i::bigint AS i,
         '0U2m' || lpad(i::text, 11, '0') AS id,
         i % 1000 AS k,
         :now - (1000000 - i::bigint) * 60000 AS t
  FROM generate_series(0, 999999) AS c(i)
),
s AS (
  SELECT i, id, t,
    CASE WHEN k < 960 THEN 'SUCCEEDED'
         WHEN k IN (970, 971) THEN 'PREPARED' ELSE 'FAILED' END AS status,
    CASE WHEN k >= 992 THEN 'UNRECOVERABLE'
         WHEN k % 2 = 0 THEN 'UNKNOWN' ELSE 'RECOVERABLE' END AS recoverable,
    CASE WHEN k BETWEEN 972 AND 991 THEN 10 WHEN k < 960 THEN 1
         ELSE i % 10 END AS retries,
    (k < 5)::int AS deleted,
    CASE WHEN k BETWEEN 960 AND 961 THEN :now - 60000
         WHEN k BETWEEN 962 AND 969 THEN :now + 3600000
         ELSE t + 180000 END AS next_retry_at,
    CASE WHEN k = 970 THEN :now + 60000
         ELSE t + 120000 END AS timeout_at
  FROM r
)
INSERT INTO snapshot (aggregate_id, tenant_id, owner_id, version, event_id,
  first_operator, operator, first_event_time, event_time, snapshot_time,
  deleted, state, status, recoverable, is_retryable,
  is_below_retry_threshold, retries, next_retry_at, timeout_at)
SELECT id, '(0)', '', 2, '0U2n' || lpad(i::text, 11, '0'), '', '', t, t + 1000,
  t + 1001, deleted,
  json_build_object(
    'id', id,
    'eventId', json_build_object('id', '0U2o' || lpad(i::text, 11, '0'),
      'aggregateId', json_build_object('contextName', 'order-service',
        'aggregateName', 'order', 'aggregateId', '0U2p' || lpad(i::text, 11, '0'),
        'tenantId', '(0)'),
      'version', 1),
    'function', json_build_object('functionKind', 'EVENT',
      'contextName', 'order-service',
      'processorName', 'OrderProjector' || (i % 7), 'name', 'onOrderCreated'),
    'error', json_build_object('errorCode', 'BadRequest', 'errorMsg', 'boom',
      'stackTrace', 'java.lang.IllegalStateException: boom',
      'succeeded', false),
    'executeAt', t,
    'retrySpec', json_build_object('maxRetries', 10, 'minBackoff', 180,
      'executionTimeout', 120),
    'retryState', json_build_object('retries', retries, 'retryAt', t,
      'timeoutAt', timeout_at, 'nextRetryAt', next_retry_at),
    'status', status, 'recoverable', recoverable,
    'isBelowRetryThreshold', (retries < 10),
    'isRetryable', (status <> 'SUCCEEDED' AND retries < 10)),
  status, recoverable,
  (status <> 'SUCCEEDED' AND retries < 10)::int, (retries < 10)::int,
  retries,
  next_retry_at, timeout_at
FROM s;
ALTER TABLE snapshot ENABLE TRIGGER snapshot_count_rows;
INSERT INTO snapshot_count SELECT -1, tenant_id, owner_id, deleted,
  coalesce(status, ''), coalesce(recoverable, ''), coalesce(is_retryable, 0),
  coalesce(is_below_retry_threshold, 0), count(*)
FROM snapshot GROUP BY 2, 3, 4, 5, 6, 7, 8
ON CONFLICT ON CONSTRAINT snapshot_count_pkey
DO UPDATE SET n = snapshot_count.n + excluded.n;
COMMIT;
-- the visibility map, as autovacuum would set it: index-only scans
VACUUM ANALYZE snapshot;
