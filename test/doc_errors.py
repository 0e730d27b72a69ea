#!/usr/bin/env python3
# Writes doc/errors.md: every error, warning and notice tenant_rls raises,
# from the sources.  Run from the top of the tree:
#   python3 test/doc_errors.py > doc/errors.md
# (needs the server headers: pg_config --includedir-server).
import re, glob, os, subprocess
inc = subprocess.run([os.environ.get('PG_CONFIG', 'pg_config'), '--includedir-server'],
                     capture_output=True, text=True, check=True).stdout.strip()
hdr = open(os.path.join(inc, 'utils', 'errcodes.h')).read()
codes, names = {}, {}
for m in re.finditer(r"#define ERRCODE_(\w+) MAKE_SQLSTATE\('(.)',\s*'(.)',\s*'(.)',\s*'(.)',\s*'(.)'\)", hdr):
    st = ''.join(m.group(i) for i in range(2, 7))
    codes['ERRCODE_' + m.group(1)] = st
    names[m.group(1).lower()] = st

def call_body(src, i):
    """text of the parenthesised call starting at src[i] == '('"""
    depth = 0; j = i
    while True:
        c = src[j]
        if c == '(':
            depth += 1
        elif c == ')':
            depth -= 1
            if depth == 0:
                return src[i:j + 1]
        elif c == '"':
            j += 1
            while src[j] != '"':
                if src[j] == '\\':
                    j += 1
                j += 1
        elif c == "'":
            j += 2 if src[j + 1] != '\\' else 3
        j += 1

def lit(s):
    s = re.sub(r'\b(INT64_FORMAT|UINT64_FORMAT)\b', '"%lld"', s)
    return ''.join(re.findall(r'"((?:[^"\\]|\\.)*)"', s)).replace('\\"', '"').replace('\\n', ' ')

def call_format(b):
    # the format string of a call: its leading string literals
    mm = re.match(r'\(\s*((?:(?:"(?:[^"\\]|\\.)*"|INT64_FORMAT|UINT64_FORMAT)\s*)+)', b)
    return lit(mm.group(1)) if mm else None

def first_call(body, fn):
    m = re.search(r'\b' + fn + r'\s*\(', body)
    if not m:
        return None
    return call_format(call_body(body, m.end() - 1))

def hint_of(body):
    """the hint of an ereport: '' when it has none; every alternative, joined
    by ' *or* ', when it picks one of several errhint() calls (cond ? errhint(A)
    : errhint(B)); '(depends on the case)' when a hint is built at run time"""
    hints = []
    for m in re.finditer(r'\berrhint(_internal)?\s*\(', body):
        h = call_format(call_body(body, m.end() - 1))
        if not h or h == '%s':
            return '(depends on the case)'
        if h not in hints:
            hints.append(h)
    if len(hints) > 1:
        return 'One of: ' + ' *or* '.join(hints)
    return hints[0] if hints else ''

rows = []
# the project's string macros (a hint two files share), put back in place
macros = {}
for f in sorted(glob.glob('src/*.h')):
    for m in re.finditer(r'#define\s+(\w+)\s*(?:\\\n\s*)?((?:"(?:[^"\\]|\\.)*"\s*)+)\n', open(f).read()):
        macros[m.group(1)] = m.group(2).strip()

def call_args(b):
    """the arguments of a parenthesised call, split at its top-level commas"""
    args, depth, cur, j = [], 0, '', 1
    while j < len(b) - 1:
        c = b[j]
        if c == '"':
            k = j + 1
            while b[k] != '"':
                k += 2 if b[k] == '\\' else 1
            cur += b[j:k + 1]; j = k + 1
            continue
        if c in '([{':
            depth += 1
        elif c in ')]}':
            depth -= 1
        if c == ',' and depth == 0:
            args.append(cur.strip()); cur = ''
        else:
            cur += c
        j += 1
    args.append(cur.strip())
    return args

# helpers that raise one message with the hint their callers pass as their
# last argument (refuse_protected_part() of policy.c): the message is listed
# once a call, with the call's hint, not once with "depends on the case"
hint_helpers = ('refuse_protected_part',)

for f in sorted(glob.glob('src/*.c')):
    src = open(f).read()
    for name, text in macros.items():
        src = re.sub(r'\b' + name + r'\b', lambda _m: text, src)
    helper_defs = {}    # helper name: (start, end) of its definition
    for h in hint_helpers:
        d = re.search(r'\n(?:static\s+)?void\s*\n' + h + r'\s*\(', src)
        if d:
            helper_defs[h] = (d.start(), src.index('\n}\n', d.start()))
    helper_report = {}  # helper name: (level, SQLSTATE, message)
    for m in re.finditer(r'\bereport\s*\(', src):
        body = call_body(src, m.end() - 1)
        lvl = re.match(r'\(\s*([^,]+),', body).group(1)
        if 'DEBUG' in lvl or 'LOG' in lvl.split('?')[0] and 'WARNING' not in lvl:
            continue
        in_helper = [h for h, (a, b) in helper_defs.items() if a <= m.start() < b]
        level = 'ERROR' if 'ERROR' in lvl and 'WARNING' not in lvl else \
                ('WARNING' if lvl.strip() == 'WARNING' else ('NOTICE' if 'NOTICE' in lvl else ('ERROR/WARNING' if 'WARNING' in lvl else lvl.strip())))
        msg = first_call(body, 'errmsg') or first_call(body, 'errmsg_plural')
        if not msg or msg == '%s':
            continue
        code = re.search(r'errcode\((ERRCODE_\w+)\)', body)
        if code:
            st = codes.get(code.group(1), '?')
        elif 'errcode_for_file_access()' in body:
            st = '(from errno: 58P01, 42501, 53100, 58030)'
        elif re.search(r'errcode\(\s*\w+\s*\)', body):
            st = '(depends on the case)'
        else:
            st = {'ERROR': 'XX000', 'WARNING': '01000', 'NOTICE': '00000'}.get(level, '?')
        if in_helper:
            helper_report[in_helper[0]] = (level, st, msg)
            continue
        hint = hint_of(body)
        rows.append((f, level, st, msg, hint))
    for h, (level, st, msg) in helper_report.items():
        a, b = helper_defs[h]
        for m in re.finditer(r'\b' + h + r'\s*\(', src):
            if a <= m.start() < b:
                continue
            hint = call_format('(' + call_args(call_body(src, m.end() - 1))[-1] + ')')
            rows.append((f, level, st, msg, hint if hint and hint != '%s' else '(depends on the case)'))
    for m in re.finditer(r'\breport_drift(_hint)?\s*\(', src):
        if src[m.start() - 5:m.start()].strip().endswith('void'):
            continue
        body = call_body(src, m.end() - 1)
        msgs = re.findall(r'psprintf\(\s*((?:"(?:[^"\\]|\\.)*"\s*)+)', body)
        if msgs and not lit(msgs[0])[:1].isupper():
            rows.append((f, 'ERROR/WARNING', '42501', lit(msgs[0]), '(depends on the case)'))
    if f.endswith('event_trigger.c'):
        # drift guard messages are built with psprintf() and raised by report_drift()
        for m in re.finditer(r'psprintf\(\s*((?:"(?:[^"\\]|\\.)*"\s*)+)', src):
            msg = lit(m.group(1))
            if msg.startswith('cannot '):
                rows.append((f, 'ERROR/WARNING', '42501', msg, '(depends on the case)'))
    for m in re.finditer(r'\bGUC_check_errmsg\s*\(', src):
        msg = first_call(src[m.start():m.start() + 600], 'GUC_check_errmsg')
        if msg and msg != 'out of memory':
            # the hint up to the check's "return false;", the SQLSTATE from the
            # GUC_check_errcode() before the message in the same block (else
            # PostgreSQL's default for a failed check, 22023)
            nxt = src[m.end():]
            nxt = nxt[:nxt.find('return false;')] if 'return false;' in nxt else nxt[:600]
            h = first_call(nxt, 'GUC_check_errhint') if 'GUC_check_errhint' in nxt else ''
            before = src[:m.start()]
            before = before[max(before.rfind('return '), before.rfind('{\n'), 0):]
            code = re.findall(r'GUC_check_errcode\((ERRCODE_\w+)\)', before)
            st = codes.get(code[-1], '?') if code else '22023'
            rows.append((f, 'setting check', st, msg, h or ''))
    # a check that sets only a detail: PostgreSQL's message, with the
    # setting whose check hook the function is
    for m in re.finditer(r'\nstatic bool\n(check_\w+)\(([^)]*)\)\n\{(.*?)\n\}', src, re.S):
        fn, body = m.group(1), m.group(3)
        if 'GUC_check_errmsg' in body or 'GUC_check_errdetail' not in body:
            continue
        setting = re.search(r'"(tenant_rls\.\w+)"[^;]*?\b' + fn + r'\b', src, re.S)
        for d in re.finditer(r'\bGUC_check_errdetail\s*\(', body):
            nxt = body[d.end():]
            nxt = nxt[:nxt.find('return false;')] if 'return false;' in nxt else nxt[:600]
            h = first_call(nxt, 'GUC_check_errhint') if 'GUC_check_errhint' in nxt else ''
            rows.append((f, 'setting check', '22023',
                         'invalid value for parameter "%s": "%%s"' % (setting.group(1) if setting else '%s'),
                         h or ''))
for f in sorted(glob.glob('src/sql/*.sql')):
    src = open(f).read()
    # (the USING clause up to the first ";" outside string literals)
    for m in re.finditer(r"RAISE\s+(EXCEPTION|WARNING|NOTICE)\s+'((?:[^']|'')*)'((?:[^;']|'(?:[^']|'')*')*);", src, re.S):
        code = re.search(r"ERRCODE\s*=\s*'(\w+)'", m.group(3))
        hint = re.search(r"HINT\s*=\s*'((?:[^']|'')*)'", m.group(3))
        st = names.get(code.group(1), code.group(1)) if code else {'EXCEPTION': 'P0001', 'WARNING': '01000', 'NOTICE': '00000'}[m.group(1)]
        rows.append((f, 'ERROR' if m.group(1) == 'EXCEPTION' else m.group(1), st,
                     m.group(2).replace("''", "'"), hint.group(1).replace("''", "'") if hint
                     else ('(depends on the case)' if re.search(r'HINT\s*=', m.group(3)) else '')))
concern = [('src/context.c', 'tenant context', 'README.md#tenant-context'),
           ('src/guc.c', 'settings', 'README.md#configuration'),
           ('src/strict.c', 'strict mode', 'context_security.md'),
           ('src/token', 'signed tokens', 'context_security.md'),
           ('src/sql/50_token', 'signed tokens', 'context_security.md'),
           ('src/policy', 'policies', 'policy.md'),
           ('src/sql/2', 'policies', 'policy.md'),
           ('src/event_trigger', 'event triggers and drift guard', 'event_triggers.md'),
           ('src/sql/3', 'event triggers and drift guard', 'event_triggers.md'),
           ('src/owner_code', 'event triggers and drift guard', 'event_triggers.md'),
           ('src/audit', 'audit', 'audit.md'),
           ('src/sql/4', 'audit', 'audit.md'),
           ('src/coverage', 'coverage report', 'coverage.md'),
           ('src/sql/6', 'coverage report', 'coverage.md'),
           ('src/sql/7', 'operations', 'operations.md'),
           ('src/', 'other', '')]
def group(f):
    for p, n, d in concern:
        if f.startswith(p):
            return n, d
seen = set(); out = {}
order = []
for f, lvl, st, msg, hint in rows:
    g = group(f)
    key = (g[0], lvl, st, msg, hint)
    if key in seen:
        continue
    seen.add(key)
    if g not in out:
        out[g] = []; order.append(g)
    out[g].append((st, lvl, msg, hint, f))
esc = lambda s: s.replace('|', '\\|')
print('''# Every error, warning and notice tenant_rls raises

Generated from the sources (`python3 test/doc_errors.py > doc/errors.md`;
re-run it after changing a message): the SQLSTATE, the level, the message
(`%s`, `%d`, `%` ... stand for the values filled in), the hint the server
gives with it ("One of: A *or* B": the server gives A or B, depending on
the case; "depends on the case": several hints, or one built at run time),
and the source. The documentation of each part says when and why.
`ERROR/WARNING`: an error, or a warning only under
`tenant_rls.drift_action = warning`. `setting check`: a setting's check
refused a value; `SET`, `set_config()` and `ALTER ROLE/DATABASE ... SET` fail
with the SQLSTATE given (PostgreSQL's `22023` unless the check sets another)
and this message; a value from the server configuration is ignored (with a
WARNING at server start, a LOG line at a reload), as is a role's or database's default (the session starts without
it), and one given in the connection's options (`PGOPTIONS`) refuses the
connection (`FATAL`) once the library is loaded there (review rev47d).
Internal errors that
"cannot happen" (`elog`, SQLSTATE `XX000`) are not listed.
''')
for g in order:
    name, doc = g
    print('## %s%s\n' % (name, (' ([%s](%s))' % (doc.split('#')[0], doc if not doc.startswith('README') else '../' + doc)) if doc else ''))
    print('| SQLSTATE | level | message | hint | source |')
    print('|---|---|---|---|---|')
    for st, lvl, msg, hint, f in sorted(out[g], key=lambda r: (r[0], r[2])):
        print('| `%s` | %s | %s | %s | `%s` |' % (st, lvl, esc('`' + msg + '`'), esc(hint), f))
    print()
