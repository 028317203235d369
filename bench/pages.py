#!/usr/bin/env python3
# ngx_compensation: which b-tree each page a command writes belongs to
# (issue 15, docs/benchmarks.md "Cost per command").
#
#   bench/pages.py <schema.sql>     (e.g. sqlite3 store.db .schema > s.sql)
#
# On a fresh file with that schema: 50,000 executions (96% SUCCEEDED), then
# 2,000 creates (one transaction each), then 4,000 prepare/apply commands
# (FAILED <-> PREPARED), with the module's statements and rows of its sizes.
# Checkpoints are off, so the WAL holds every frame: each frame's page
# number is mapped to the b-tree that owns the page (dbstat).  Prints the
# pages per command of each b-tree.
import collections, os, shutil, sqlite3, struct, sys, tempfile

HEADER = '{"remote_ip":"127.0.0.1","user_agent":"wrk"}'
BODY, STATE = 'x' * 1080, 'y' * 900
APP = ("INSERT INTO event_stream (id, aggregate_id, tenant_id, owner_id, version, request_id,"
       " command_id, header, body, size, create_time) VALUES (?1, ?2, '(0)', ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)")
SNAP = ("INSERT INTO snapshot (aggregate_id, tenant_id, owner_id, version, event_id, first_operator,"
        " operator, first_event_time, event_time, snapshot_time, deleted, state, status, recoverable,"
        " is_retryable, is_below_retry_threshold, retries, next_retry_at, timeout_at, tags)"
        " VALUES (?1, '(0)', ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, '{}')"
        " ON CONFLICT (aggregate_id) DO UPDATE SET owner_id = excluded.owner_id,"
        " version = excluded.version, event_id = excluded.event_id,"
        " first_operator = excluded.first_operator, operator = excluded.operator,"
        " first_event_time = excluded.first_event_time, event_time = excluded.event_time,"
        " snapshot_time = excluded.snapshot_time, deleted = excluded.deleted, state = excluded.state,"
        " status = excluded.status, recoverable = excluded.recoverable,"
        " is_retryable = excluded.is_retryable,"
        " is_below_retry_threshold = excluded.is_below_retry_threshold, retries = excluded.retries,"
        " next_retry_at = excluded.next_retry_at, timeout_at = excluded.timeout_at, tags = excluded.tags")
FRAME = 24 + 4096


def frames(path):
    try:
        return max(0, (os.path.getsize(path + '-wal') - 32) // FRAME)
    except OSError:
        return 0


def main():
    schema = open(sys.argv[1]).read().replace('CREATE TABLE sqlite_sequence(name,seq);', '')
    d = tempfile.mkdtemp(prefix='cf-pages-')
    path = os.path.join(d, 'p.db')
    db = sqlite3.connect(path, isolation_level=None)
    db.execute('PRAGMA journal_mode=WAL')
    db.execute('PRAGMA synchronous=NORMAL')
    db.executescript(schema)
    now = 1790000000000

    def command(i, v, t, status, retries, body):
        aid = '0U2m%011d' % i
        db.execute(APP, ('ev%011d-%d' % (i, v), aid, '', v, 'rq%011d-%d' % (i, v), 'rq%011d-%d' % (i, v),
                         HEADER, body, 1, t))
        retry = 1 if status != 'SUCCEEDED' and retries < 10 else 0
        db.execute(SNAP, (aid, '', v, 'ev%011d-%d' % (i, v), '', '', t, t, t, 0, STATE, status, 'UNKNOWN',
                          retry, 1 if retries < 10 else 0, retries, t + 180000 * (retries + 1), t + 120000))

    seed, n = 50000, 2000
    db.execute('BEGIN')
    for i in range(seed):
        command(i, 1, now - (seed - i) * 1000, 'FAILED', 0, BODY)
        if i % 100 < 96:
            command(i, 2, now - (seed - i) * 1000 + 10, 'SUCCEEDED', 0, BODY[:300])
    db.execute('COMMIT')
    db.execute('PRAGMA wal_checkpoint(TRUNCATE)')
    db.execute('PRAGMA wal_autocheckpoint=0')
    f0 = frames(path)
    for k in range(n):
        db.execute('BEGIN IMMEDIATE')
        command(seed + k, 1, now + k, 'FAILED', 0, BODY)
        db.execute('COMMIT')
    f1 = frames(path)
    m = 0
    for v in range(2, 6):
        for k in range(0, n, 2):
            db.execute('BEGIN IMMEDIATE')
            command(seed + k, v, now + 10000 + v, 'PREPARED' if v % 2 == 0 else 'FAILED', v // 2, BODY[:300])
            db.execute('COMMIT')
            m += 1
    f2 = frames(path)
    shutil.copy(path + '-wal', path + '-wal.keep')   # closing checkpoints and deletes the WAL
    db.close()
    db = sqlite3.connect(path)
    owner = {pg: name for name, pg in db.execute('SELECT name, pageno FROM dbstat')}
    with open(path + '-wal.keep', 'rb') as f:
        for label, a, b, cnt in (('create', f0, f1, n), ('prepare/apply', f1, f2, m)):
            c = collections.Counter()
            for k in range(a, b):
                f.seek(32 + k * FRAME)
                pg = struct.unpack('>I', f.read(4))[0]
                c[owner.get(pg, 'page 1' if pg == 1 else '(freed)')] += 1
            print('%s: %.2f pages per command' % (label, (b - a) / cnt))
            for name, v in c.most_common():
                print('  %-40s %.2f' % (name, v / cnt))
    db.close()
    shutil.rmtree(d)


main()
