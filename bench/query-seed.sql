-- ngx_compensation query benchmark: 1,000,000 executions, seeded directly.
--
-- Run against a store whose schema nginx created (bench/query.sh does).
-- The distribution is that of a service whose failures mostly recover
-- (per 1000 executions):
--   960  SUCCEEDED (5 of them deleted)
--    10  FAILED, retryable; 2 of them due (next retry before :now)
--     2  PREPARED: 1 executing, 1 timed out
--    20  FAILED at the retry limit (Non Retryable)
--     8  FAILED, UNRECOVERABLE
-- Ids are CosId-like, ascending with time ("0U2m" + 11 digits).
-- Parameters: .parameter set :now <epoch ms>

BEGIN;
WITH RECURSIVE c(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM c WHERE i < 999999),
r AS (
  SELECT i,
         printf('0U2m%011d', i) AS id,
         i % 1000 AS k,
         :now - (1000000 - i) * 60000 AS t
  FROM c
),
s AS (
  SELECT i, id, t,
    CASE WHEN k < 960 THEN 'SUCCEEDED'
         WHEN k IN (970, 971) THEN 'PREPARED' ELSE 'FAILED' END AS status,
    CASE WHEN k >= 992 THEN 'UNRECOVERABLE'
         WHEN k % 2 = 0 THEN 'UNKNOWN' ELSE 'RECOVERABLE' END AS recoverable,
    CASE WHEN k BETWEEN 972 AND 991 THEN 10 WHEN k < 960 THEN 1
         ELSE i % 10 END AS retries,
    (k < 5) AS deleted,
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
SELECT id, '(0)', '', 2, printf('0U2n%011d', i), '', '', t, t + 1000,
  t + 1001, deleted,
  json_object(
    'id', id,
    'eventId', json_object('id', printf('0U2o%011d', i),
      'aggregateId', json_object('contextName', 'order-service',
        'aggregateName', 'order', 'aggregateId', printf('0U2p%011d', i),
        'tenantId', '(0)'),
      'version', 1),
    'function', json_object('functionKind', 'EVENT',
      'contextName', 'order-service',
      'processorName', 'OrderProjector' || (i % 7), 'name', 'onOrderCreated'),
    'error', json_object('errorCode', 'BadRequest', 'errorMsg', 'boom',
      'stackTrace', 'java.lang.IllegalStateException: boom',
      'succeeded', json('false')),
    'executeAt', t,
    'retrySpec', json_object('maxRetries', 10, 'minBackoff', 180,
      'executionTimeout', 120),
    'retryState', json_object('retries', retries, 'retryAt', t,
      'timeoutAt', timeout_at, 'nextRetryAt', next_retry_at),
    'status', status, 'recoverable', recoverable,
    'isBelowRetryThreshold', json(CASE WHEN retries < 10 THEN 'true'
                                       ELSE 'false' END),
    'isRetryable', json(CASE WHEN status <> 'SUCCEEDED' AND retries < 10
                             THEN 'true' ELSE 'false' END)),
  status, recoverable,
  (status <> 'SUCCEEDED' AND retries < 10), (retries < 10), retries,
  next_retry_at, timeout_at
FROM s;
COMMIT;
