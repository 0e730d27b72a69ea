# bench_partitioned.sh -- reads of tables partitioned by the tenant column
# (review rev25c), through protect()'s policies against a hand-written
# WHERE tenant_id = :tid on an unprotected copy.
#
# Sourced by test/bench/run.sh (cluster running, helpers defined).  Two
# layouts of 1,000,000 rows over 100 bigint tenants, each with an
# unprotected copy (a) and a protected one (b), built the same way:
#   list  100 list partitions, one per tenant (10,000 rows each)
#   hash  64 hash partitions of the tenant column
# primary key (tenant_id, id).  pgbench runs as bench_app (not superuser, not
# BYPASSRLS, not the owner) with 2 clients; every transaction sets the
# tenant with tenant_rls.set_tenant() in both variants.  Cells: point lookup
# by id, per-tenant aggregate; -M simple (every statement planned) and
# -M prepared (PostgreSQL's default plan_cache_mode: custom plans first,
# then whichever it prefers).  Each cell runs a and b interleaved in one
# pgbench (a script chosen at random per transaction) and prints their mean
# latencies and b/a = latency a / latency b.  Then one transaction with
# CURSORS (20,000) cursors open at once, timed on a and on b.
# shellcheck shell=bash

part_dir=$TR_TMP/bench_partitioned_files
mkdir -p "$part_dir"
chmod 777 "$part_dir"

tr_log "bench partitioned: loading 4 x 1,000,000 rows"
bench_psql -d postgres <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION tenant_rls;
CREATE ROLE bench_owner NOLOGIN;
CREATE ROLE bench_app LOGIN;
ALTER DATABASE postgres SET tenant_rls.tenant_type = 'bigint';
SET tenant_rls.audit = off;
CREATE SCHEMA bench AUTHORIZATION bench_owner;
GRANT USAGE ON SCHEMA bench TO bench_app;
SET ROLE bench_owner;
CREATE TABLE bench.list_plain (tenant_id bigint NOT NULL, id bigint NOT NULL,
                               amount integer NOT NULL, note text NOT NULL,
                               PRIMARY KEY (tenant_id, id)) PARTITION BY LIST (tenant_id);
CREATE TABLE bench.list_prot (LIKE bench.list_plain INCLUDING ALL) PARTITION BY LIST (tenant_id);
CREATE TABLE bench.hash_plain (LIKE bench.list_plain INCLUDING ALL) PARTITION BY HASH (tenant_id);
CREATE TABLE bench.hash_prot (LIKE bench.list_plain INCLUDING ALL) PARTITION BY HASH (tenant_id);
SELECT format('CREATE TABLE bench.%s_%s PARTITION OF bench.%s FOR VALUES IN (%s)', t, n, t, n)
  FROM unnest(ARRAY['list_plain', 'list_prot']) t, generate_series(1, 100) n \gexec
SELECT format('CREATE TABLE bench.%s_%s PARTITION OF bench.%s FOR VALUES WITH (MODULUS 64, REMAINDER %s)', t, n, t, n)
  FROM unnest(ARRAY['hash_plain', 'hash_prot']) t, generate_series(0, 63) n \gexec
INSERT INTO bench.list_plain
SELECT (n - 1) % 100 + 1, n, (n::bigint * 7919 % 10007)::integer, 'row ' || n
  FROM generate_series(1, 1000000) n;
INSERT INTO bench.list_prot SELECT * FROM bench.list_plain;
INSERT INTO bench.hash_plain SELECT * FROM bench.list_plain;
INSERT INTO bench.hash_prot SELECT * FROM bench.list_plain;
SELECT count(*) AS protect_statements FROM tenant_rls.protect('bench.list_prot');
SELECT count(*) AS protect_statements FROM tenant_rls.protect('bench.hash_prot');
GRANT SELECT ON bench.list_plain, bench.list_prot, bench.hash_plain, bench.hash_prot TO bench_app;
RESET ROLE;
VACUUM (ANALYZE) bench.list_plain, bench.list_prot, bench.hash_plain, bench.hash_prot;
SQL
[ $? = 0 ] || { echo "bench partitioned: loading failed"; return 1; }

part_script() {	# part_script NAME QUERY
	{
		echo '\set tid random(1, 100)'
		echo '\set k random(0, 9999)'
		echo '\set id :k * 100 + :tid'
		echo 'BEGIN;'
		echo 'SELECT tenant_rls.set_tenant(:tid::bigint);'
		echo "$2"
		echo 'END;'
	} >"$part_dir/$1.sql"
}
for layout in list hash; do
	part_script "a_point_$layout" "SELECT amount, note FROM bench.${layout}_plain WHERE id = :id AND tenant_id = :tid;"
	part_script "b_point_$layout" "SELECT amount, note FROM bench.${layout}_prot WHERE id = :id;"
	part_script "a_agg_$layout" "SELECT count(*), sum(amount) FROM bench.${layout}_plain WHERE tenant_id = :tid;"
	part_script "b_agg_$layout" "SELECT count(*), sum(amount) FROM bench.${layout}_prot;"
done
chmod 644 "$part_dir"/*.sql

# the plans bench_app gets, and a check that (b) isolates
bench_psql -d postgres -U bench_app <<'SQL'
BEGIN;
SELECT tenant_rls.set_tenant(42::bigint);
\echo '-- (b) list, point lookup, as planned for the simple protocol'
EXPLAIN (COSTS OFF) SELECT amount, note FROM bench.list_prot WHERE id = 4200;
\echo '-- (b) hash, per-tenant aggregate, as planned for the simple protocol'
EXPLAIN (COSTS OFF) SELECT count(*), sum(amount) FROM bench.hash_prot;
\echo '-- (b) isolation check: rows, tenants'
SELECT count(*), count(DISTINCT tenant_id), min(tenant_id) FROM bench.list_prot;
SELECT count(*), count(DISTINCT tenant_id), min(tenant_id) FROM bench.hash_prot;
COMMIT;
SQL

# part_mixed MODE SECONDS SCRIPT... -> the mean latency (ms) of each script
# in one pgbench run that picks a script at random for every transaction
part_mixed() {
	local mode=$1 secs=$2 out=$part_dir/mixed.$1.$RANDOM f files="" n=$(($# - 2))
	shift 2
	for f in "$@"; do files="$files -f $part_dir/$f.sql@1"; done
	# shellcheck disable=SC2086
	tr_as_pg "$TR_BINDIR/pgbench" -n -U bench_app -M "$mode" -c 2 -j 2 -T "$secs" \
		-l --log-prefix="$out.log" $files postgres >"$out.out" 2>&1 \
		|| { cat "$out.out" >&2; echo "0 0"; return; }
	bench_log_means "$out.log" "$n"
	rm -f "$out".log.*
}

printf '\n%-6s %-6s %-9s %10s %10s %7s\n' layout query mode "a: WHERE" "b: policy" "b/a"
for layout in list hash; do
	for query in point agg; do
		for mode in simple prepared; do
			part_mixed "$mode" 2 "a_${query}_$layout" "b_${query}_$layout" >/dev/null	# warm-up
			# shellcheck disable=SC2046
			set -- $(part_mixed "$mode" "$BENCH_SECONDS" "a_${query}_$layout" "b_${query}_$layout")
			printf '%-6s %-6s %-9s %10s %10s %7s\n' "$layout" "$query" "$mode" "${1:-?}" "${2:-?}" \
				"$(bench_ratio "${1:-0}" "${2:-0}")"
		done
	done
done

# Many cursors open at once: each plan with the tenant's value is remembered
# while it runs (src/planner_prune.c, "Running plans"), so its look-ups must
# not grow with the number of cursors open.  One transaction declares
# CURSORS cursors, fetches a row from each, closes every second one and
# commits with the rest open; a on the plain table (WHERE tenant_id), b on
# the protected one (plans with the value).  Best of 3, ms.
CURSORS=${CURSORS:-20000}
cursor_file() {	# cursor_file VARIANT TABLE WHERE
	{
		echo 'BEGIN;'
		echo 'SELECT tenant_rls.set_tenant(42::bigint) \g /dev/null'
		for i in $(seq 1 "$CURSORS"); do
			echo "DECLARE c$i CURSOR FOR SELECT amount FROM bench.$2 WHERE id = $(( i % 10000 * 100 + 42 ))$3;"
		done
		for i in $(seq 1 "$CURSORS"); do echo "FETCH 1 FROM c$i \g /dev/null"; done
		for i in $(seq 2 2 "$CURSORS"); do echo "CLOSE c$i;"; done
		echo 'COMMIT;'
	} >"$part_dir/cursors_$1.sql"
	chmod 644 "$part_dir/cursors_$1.sql"
}
cursor_file a list_plain " AND tenant_id = 42"
cursor_file b list_prot ""
cursor_ms() {	# cursor_ms VARIANT -> the best of 3 runs, ms
	local best="" t0 t1 ms
	for _ in 1 2 3; do
		t0=$(date +%s%N)
		tr_as_pg "$TR_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -U bench_app -d postgres -f "$part_dir/cursors_$1.sql" >/dev/null \
			|| { echo 0; return; }
		t1=$(date +%s%N)
		ms=$(( (t1 - t0) / 1000000 ))
		if [ -z "$best" ] || [ "$ms" -lt "$best" ]; then best=$ms; fi
	done
	echo "$best"
}
ca=$(cursor_ms a)
cb=$(cursor_ms b)
printf '%-6s %-6s %-9s %10s %10s %7s\n' list cursors "$CURSORS" "$ca" "$cb" "$(bench_ratio "$ca" "$cb")"
echo
echo "partitioned benchmark: 2 clients, one ${BENCH_SECONDS}s interleaved run per cell (a or b chosen per"
echo "transaction); a, b: mean latency in ms; b/a = latency a / latency b (1.0: the policy costs nothing)"
echo "cursors: one transaction declaring $CURSORS cursors, a FETCH from each, half of them closed, COMMIT;"
echo "a, b: its time in ms (best of 3, psql included); b/a = time a / time b"
rm -rf "$part_dir"
