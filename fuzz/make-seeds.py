#!/usr/bin/env python3
"""Builds the seed corpora (fuzz/corpus/<target>/) from the JSON documents
of the spec and the test suites.  Rerun after adding examples; the files are
committed, so fuzzing needs nothing but this directory."""

import hashlib, json, os, re, sys, warnings

warnings.simplefilter("ignore")

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..')


def c_strings(text):
    """JSON documents written as (concatenated) C string literals."""
    for m in re.finditer(r'((?:"(?:[^"\\\n]|\\.)*"\s*)+)', text):
        parts = re.findall(r'"((?:[^"\\\n]|\\.)*)"', m.group(1))
        s = ''.join(parts)
        try:
            s = bytes(s, 'utf-8').decode('unicode_escape')
        except Exception:
            continue
        yield s


def docs(text):
    """Balanced {...} spans that parse as JSON objects."""
    i = 0
    while True:
        i = text.find('{', i)
        if i < 0:
            return
        depth, j, instr, esc = 0, i, False, False
        while j < len(text):
            c = text[j]
            if instr:
                if esc: esc = False
                elif c == '\\': esc = True
                elif c == '"': instr = False
            elif c == '"': instr = True
            elif c == '{': depth += 1
            elif c == '}':
                depth -= 1
                if depth == 0:
                    break
            j += 1
        cand = text[i:j + 1]
        try:
            v = json.loads(cand)
            if isinstance(v, dict):
                yield cand
        except Exception:
            pass
        i += 1


found = set()
for d, exts in (('shared/spec', None),):
    pass

sources = []
for base in ('/work/shared/spec', os.path.join(root, 'docs'),
             os.path.join(root, 't'), os.path.join(root, 'test/unit')):
    if not os.path.isdir(base):
        continue
    for f in sorted(os.listdir(base)):
        p = os.path.join(base, f)
        if os.path.isfile(p) and f.endswith(('.md', '.t', '.c')):
            sources.append(p)

for p in sources:
    text = open(p, encoding='utf-8', errors='replace').read()
    chunks = [text] + list(c_strings(text)) + \
             [text.replace('\\"', '"')]
    for ch in chunks:
        for doc in docs(ch):
            if len(doc) <= 4096:
                found.add(doc)

found = sorted(found)

query_keys = ('operator', 'condition', 'pagination', 'sort', 'projection',
              'limit', 'field', 'children')
query = [d for d in found if any('"%s"' % k in d for k in query_keys)]
bind = [d for d in found if d not in query]


def write(target, items):
    out = os.path.join(root, 'fuzz', 'corpus', target)
    os.makedirs(out, exist_ok=True)
    for data in items:
        name = hashlib.sha1(data).hexdigest()[:16]
        with open(os.path.join(out, name), 'wb') as f:
            f.write(data)
    print(target, len(items))


# bind: command byte, setup byte, body; every body for a rotating command
items = []
for n, d in enumerate(bind):
    items.append(bytes([n % 10, n % 3]) + d.encode())
for c in range(10):
    for s in range(3):
        items.append(bytes([c, s]))
        items.append(bytes([c, s]) + b'{}')
items.append(bytes([0x80, 1]) + b'{"id":"agg-1"}')
write('bind', items)

# query: selector byte (store, kind, owner, guard), body
items = []
for n, d in enumerate(query):
    items.append(bytes([(n * 2) % 64]) + d.encode())
    items.append(bytes([(n * 2 + 1) % 64]) + d.encode())
write('query', items)

# route: method byte, location/table byte, URI; the table's patterns with
# sample values, the paths of the t/ suites, and two fuzzed-table examples
router = open(os.path.join(root, 'src/ngx_http_compensation_router.c')).read()
patterns = sorted(set(re.findall(r'"(/(?:[A-Za-z0-9_.{}*-]+/?)*)"', router)))
paths = set()
for p in patterns:
    paths.add(re.sub(r'\{[^}]*\}', 'x1', p))
    paths.add(re.sub(r'\{[^}]*\}', '0U2mSz9k0001000', p))
for f in sources:
    if f.endswith('.t'):
        for m in re.finditer(r'\b(?:GET|PUT|POST|DELETE|HEAD) (/[^\s"\\]*)',
                             open(f).read()):
            if '$' not in m.group(1):
                paths.add(m.group(1))
items = []
for n, p in enumerate(sorted(paths)):
    items.append(bytes([n % 6, 0]) + p.encode())
    items.append(bytes([(n + 2) % 6, 2]) + b'/api' + p.encode())
items.append(bytes([0, 0x80]) + b'\x02/a/{id}/x\n\x02/a/{v}/{w}\n\x42/a/b\n/a/q/x')
items.append(bytes([1, 0x81]) + b'\x03/s/{id}\n\x02/s/t\n/api/s/t')
write('route', items)

# json: every document as it is, plus the shapes the fast path leaves to
# jansson (\u escapes, reals, duplicates, depth, stray bytes)
items = [d.encode() for d in found]
items += [b'{"a":"\\u00e9\\ud83d\\ude00","b":1.5e3,"c":-0,"d":[true,false,null]}',
          b'{"a":1,"a":2}', b'[' * 40 + b']' * 40, b' {"k\\n\\"":"v\\t\\/"} ',
          b'{"n":-9223372036854775808,"m":9223372036854775808}',
          b'{"s":"\xc3\xa9\xe2\x82\xac"}', b'{"s":"\xc3"}', b'{"x":tru}',
          b'[01]', b'{"a":1}x', b'"top"', b'{"a":"\x01"}', b'{"a\\u0000":1}']
write('json', items)
