# bench_read.sh -- read overhead of protect()'s policies (DESIGN "Performance
# targets": reads >= 0.97 x a hand-written WHERE tenant_id = $1).
#
# Sourced by test/bench/run.sh (cluster running, helpers defined).  Data set:
# 1,000,000 rows over 1,000 tenants (bigint), row id N belongs to tenant
# (N - 1) % 1000 + 1, so a tenant's 1,000 rows sit on 1,000 different heap
# pages; primary key on id, index on tenant_id.  Two identical copies:
#   (a) bench.plain     no row security; queries say WHERE tenant_id = :tid
#   (b) bench.protected tenant_rls.protect()ed; queries have no tenant filter
# pgbench runs as bench_app (not superuser, not BYPASSRLS, not the owner), and
# every transaction sets the tenant with tenant_rls.set_tenant() in both (a)
# and (b), so the only difference is the policy.  Cells: point lookup by
# primary key, per-tenant aggregate; -M prepared (generic plans forced) and
# -M simple.  A third pair of copies (plain_scan, protected_scan: the first
# 500,000 rows over 5 tenants, no tenant index, no parallel workers) gives
# the "scan" cells, a per-tenant aggregate by sequential scan, also with -M
# prepared and the plan cache's own choice of plan ("auto").  Each cell alternates a and b against
# drift (BENCH_READ_ROUNDS rounds of a,b,b,a slices, BENCH_SECONDS per
# variant in total), and prints mean TPS and b/a (target >= 0.97).  Because a
# shared machine makes separate runs noisy, each cell also runs a and b
# interleaved in one pgbench (a script chosen at random per transaction) and
# prints their latencies and latency a / latency b, the more robust ratio.
#
# BENCH_READ_INITPLAN=1 adds (c): a copy with hand-written policies in the
# "(SELECT accessor())" initplan form, interleaved with a and b, to compare
# the policy forms (c/a = latency a / latency c).
# shellcheck shell=bash

read_clients=2
read_rounds=${BENCH_READ_ROUNDS:-2}
read_slice=$(( (BENCH_SECONDS + read_rounds - 1) / read_rounds ))
read_slice=$(( (read_slice + 1) / 2 ))
[ "$read_slice" -ge 1 ] || read_slice=1
read_dir=$TR_TMP/bench_read
mkdir -p "$read_dir"
chmod 777 "$read_dir"

tr_log "bench read: loading 1,000,000 rows x 2 copies"
bench_psql -d postgres <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION tenant_rls;
CREATE ROLE bench_owner NOLOGIN;
CREATE ROLE bench_app LOGIN;
CREATE ROLE bench_support NOLOGIN;          -- the admin role; bench_app is not a member
ALTER DATABASE postgres SET tenant_rls.tenant_type = 'bigint';
ALTER DATABASE postgres SET tenant_rls.admin_role = 'bench_support';
SET tenant_rls.audit = off;
CREATE SCHEMA bench AUTHORIZATION bench_owner;
GRANT USAGE ON SCHEMA bench TO bench_app;
SET ROLE bench_owner;
-- both copies built the same way: rows first, then the indexes (sorted builds)
CREATE TABLE bench.plain (
    id        bigint NOT NULL,
    tenant_id bigint NOT NULL,
    amount    integer NOT NULL,
    note      text NOT NULL
);
INSERT INTO bench.plain
SELECT n, (n - 1) % 1000 + 1, (n::bigint * 7919 % 10007)::integer, 'row ' || n
  FROM generate_series(1, 1000000) n;
CREATE TABLE bench.protected (LIKE bench.plain);
INSERT INTO bench.protected SELECT * FROM bench.plain ORDER BY id;
ALTER TABLE bench.plain ADD PRIMARY KEY (id);
CREATE INDEX plain_tenant_idx ON bench.plain (tenant_id);
ALTER TABLE bench.protected ADD PRIMARY KEY (id);
CREATE INDEX protected_tenant_idx ON bench.protected (tenant_id);
SELECT count(*) AS protect_statements FROM tenant_rls.protect('bench.protected');
-- a table of few tenants read by sequential scans (no tenant index), no
-- parallel workers (on 2 cores they would only add noise)
CREATE TABLE bench.plain_scan (LIKE bench.plain) WITH (parallel_workers = 0);
INSERT INTO bench.plain_scan SELECT id, (id - 1) % 5 + 1, amount, note FROM bench.plain WHERE id <= 500000 ORDER BY id;
CREATE TABLE bench.protected_scan (LIKE bench.plain) WITH (parallel_workers = 0);
INSERT INTO bench.protected_scan SELECT * FROM bench.plain_scan ORDER BY id;
SELECT count(*) AS protect_statements FROM tenant_rls.protect('bench.protected_scan');
GRANT SELECT ON bench.plain, bench.protected, bench.plain_scan, bench.protected_scan TO bench_app;
RESET ROLE;
VACUUM (ANALYZE) bench.plain;
VACUUM (ANALYZE) bench.protected;
VACUUM (ANALYZE) bench.plain_scan;
VACUUM (ANALYZE) bench.protected_scan;
SQL
[ $? = 0 ] || { echo "bench read: loading failed"; return 1; }
if [ "${BENCH_READ_INITPLAN:-0}" = 1 ]; then
	bench_psql -d postgres <<'SQL'
SET ROLE bench_owner;
CREATE TABLE bench.initplan (LIKE bench.plain);
INSERT INTO bench.initplan SELECT * FROM bench.plain ORDER BY id;
ALTER TABLE bench.initplan ADD PRIMARY KEY (id);
CREATE INDEX initplan_tenant_idx ON bench.initplan (tenant_id);
ALTER TABLE bench.initplan ENABLE ROW LEVEL SECURITY;
ALTER TABLE bench.initplan FORCE ROW LEVEL SECURITY;
CREATE POLICY iso ON bench.initplan USING (tenant_id = (SELECT tenant_rls.current_tenant_bigint()));
GRANT SELECT ON bench.initplan TO bench_app;
RESET ROLE;
VACUUM (ANALYZE) bench.initplan;
SQL
	[ $? = 0 ] || { echo "bench read: loading failed"; return 1; }
fi

# the scripts: the same transaction shape everywhere
read_script() {	# read_script NAME TABLE QUERY [TENANTS]
	{
		echo "\\set tid random(1, ${4:-1000})"
		echo '\set k random(0, 999)'
		echo '\set id :k * 1000 + :tid'
		echo 'BEGIN;'
		echo 'SELECT tenant_rls.set_tenant(:tid::bigint);'
		echo "$3"
		echo 'END;'
	} >"$read_dir/$1.sql"
}
read_script a_point plain 'SELECT amount, note FROM bench.plain WHERE id = :id AND tenant_id = :tid;'
read_script b_point protected 'SELECT amount, note FROM bench.protected WHERE id = :id;'
read_script c_point initplan 'SELECT amount, note FROM bench.initplan WHERE id = :id;'
read_script a_agg plain 'SELECT count(*), sum(amount) FROM bench.plain WHERE tenant_id = :tid;'
read_script b_agg protected 'SELECT count(*), sum(amount) FROM bench.protected;'
read_script c_agg initplan 'SELECT count(*), sum(amount) FROM bench.initplan;'
read_script a_scan plain_scan 'SELECT count(*), sum(amount) FROM bench.plain_scan WHERE tenant_id = :tid;' 5
read_script b_scan protected_scan 'SELECT count(*), sum(amount) FROM bench.protected_scan;' 5
chmod 644 "$read_dir"/*.sql

# the plans bench_app gets (generic), and a check that (b) really isolates
bench_psql -d postgres -U bench_app <<'SQL'
SET plan_cache_mode = force_generic_plan;
PREPARE b_agg AS SELECT count(*), sum(amount) FROM bench.protected;
PREPARE b_point(bigint) AS SELECT amount, note FROM bench.protected WHERE id = $1;
PREPARE a_agg(bigint) AS SELECT count(*), sum(amount) FROM bench.plain WHERE tenant_id = $1;
BEGIN;
SELECT tenant_rls.set_tenant(42::bigint);
\echo '-- (b) per-tenant aggregate, generic plan'
EXPLAIN (COSTS OFF) EXECUTE b_agg;
\echo '-- (b) point lookup, generic plan'
EXPLAIN (COSTS OFF) EXECUTE b_point(1);
\echo '-- (a) per-tenant aggregate, generic plan'
EXPLAIN (COSTS OFF) EXECUTE a_agg(42);
\echo '-- (b) per-tenant aggregate by sequential scan, simple protocol'
EXPLAIN (COSTS OFF) SELECT count(*), sum(amount) FROM bench.protected_scan;
\echo '-- (b) isolation check: rows, tenants'
SELECT count(*), count(DISTINCT tenant_id), min(tenant_id) FROM bench.protected;
COMMIT;
SQL

# MODE: prepared (-M prepared, generic plans forced), auto (-M prepared, the
# plan cache's own choice), simple (-M simple)
read_mode_opts() { [ "$1" = prepared ] && echo "-c plan_cache_mode=force_generic_plan"; }
read_protocol() { if [ "$1" = simple ]; then echo simple; else echo prepared; fi; }

read_run() {	# read_run SCRIPT MODE SECONDS -> tps
	local out=$read_dir/$1.$2.$RANDOM.out opts
	opts=$(read_mode_opts "$2")
	tr_as_pg env PGOPTIONS="$opts" "$TR_BINDIR/pgbench" -n -U bench_app -M "$(read_protocol "$2")" \
		-c "$read_clients" -j "$read_clients" -T "$3" -f "$read_dir/$1.sql" postgres >"$out" 2>&1 \
		|| { cat "$out" >&2; echo 0; return; }
	bench_tps "$out"
}

# read_mixed MODE SECONDS SCRIPT... -> the mean latency (ms) of each script in
# one pgbench run that picks a script at random for every transaction, so all
# see the same machine; the latency ratio is robust against other load.  The
# means come from pgbench's per-transaction log (microseconds), not from its
# summary, which rounds to the microsecond in ms with three decimals.
read_mixed() {
	local mode=$1 secs=$2 out=$read_dir/mixed.$1.$RANDOM opts f files="" n=$(($# - 2))
	shift 2
	for f in "$@"; do files="$files -f $read_dir/$f.sql@1"; done
	opts=$(read_mode_opts "$mode")
	# shellcheck disable=SC2086
	tr_as_pg env PGOPTIONS="$opts" "$TR_BINDIR/pgbench" -n -U bench_app -M "$(read_protocol "$mode")" \
		-c "$read_clients" -j "$read_clients" -T "$secs" -l --log-prefix="$out.log" $files postgres >"$out.out" 2>&1 \
		|| { cat "$out.out" >&2; echo "0 0 0"; return; }
	bench_log_means "$out.log" "$n"
	rm -f "$out".log.*
}

read_avg() { echo "$@" | awk '{ s = 0; for (i = 1; i <= NF; i++) s += $i; printf "%.1f", s / NF }'; }

printf '\n%-6s %-9s %11s %11s %7s | %-31s\n' query mode "a: WHERE" "b: policy" "b/a" "interleaved: a ms   b ms   b/a"
read_summary=""
for query in point agg scan; do
	modes="prepared simple"
	[ "$query" = scan ] && modes="prepared auto simple"
	for mode in $modes; do
		initplan=${BENCH_READ_INITPLAN:-0}
		[ "$query" = scan ] && initplan=0
		# warm-up (caches, plans), not counted
		read_run "a_$query" "$mode" 2 >/dev/null
		read_run "b_$query" "$mode" 2 >/dev/null
		as="" bs=""
		for _ in $(seq 1 "$read_rounds"); do
			as="$as $(read_run "a_$query" "$mode" "$read_slice")"
			bs="$bs $(read_run "b_$query" "$mode" "$read_slice")"
			bs="$bs $(read_run "b_$query" "$mode" "$read_slice")"
			as="$as $(read_run "a_$query" "$mode" "$read_slice")"
		done
		a=$(read_avg $as)
		b=$(read_avg $bs)
		r=$(bench_ratio "$b" "$a")
		if [ "$initplan" = 1 ]; then
			# shellcheck disable=SC2046
			set -- $(read_mixed "$mode" "$BENCH_SECONDS" "a_$query" "b_$query" "c_$query")
		else
			# shellcheck disable=SC2046
			set -- $(read_mixed "$mode" "$BENCH_SECONDS" "a_$query" "b_$query")
		fi
		mr=$(bench_ratio "${1:-0}" "${2:-0}")
		line=$(printf '%-6s %-9s %11s %11s %7s | %14s %6s %6s' "$query" "$mode" "$a" "$b" "$r" "${1:-?}" "${2:-?}" "$mr")
		if [ "$initplan" = 1 ]; then
			line="$line | c: initplan ${3:-?} ms, c/a $(bench_ratio "${1:-0}" "${3:-0}")"
		fi
		echo "$line"
		read_summary="$read_summary$line"$'\n'
	done
done
echo
echo "read benchmark: $read_clients clients; TPS: ${BENCH_SECONDS}s per variant and cell ($read_rounds rounds of a,b,b,a);"
echo "point, agg: 1,000 tenants, tenant index; scan: 5 tenants of 100,000 rows, no tenant index (sequential scans);"
echo "prepared: generic plans forced; auto: -M prepared, the plan cache chooses; simple: -M simple;"
echo "interleaved: one ${BENCH_SECONDS}s run per cell choosing a or b per transaction, b/a = latency a / latency b;"
echo "target b/a >= 0.97"
