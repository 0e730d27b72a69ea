# bench_audit.sh -- the cost of auditing a write (issue 5, DESIGN A).
#
# One table, the same data for each of three modes:
#   none     no trigger
#   audit    tenant_rls.enable_audit() (C trigger, per-tenant SHA-256 chain)
#   plpgsql  test/bench/plpgsql_audit_reference.sql (to_jsonb(OLD/NEW) into a jsonb log)
# and four workloads, pgbench -M prepared -c 2 -j 2 over 1,000 tenants:
#   insert  one-row INSERT          update  one-row UPDATE by primary key
#   delete  one-row DELETE by key   multi   1,000-row INSERT ... SELECT (one tenant)
# Prints TPS per cell (best of AUDIT_ROUNDS interleaved rounds), the ratio
# audit/none (target >= 0.67: an audited write costs <= 1.5 x an unaudited
# one) and how many times less the C trigger adds to a write than the PL/pgSQL
# one (target >= 3: "3 x faster than a PL/pgSQL trigger"):
#     (1/plpgsql - 1/none) / (1/audit - 1/none)
# The TPS ratio audit/plpgsql is printed too; it cannot reach 3 for a
# one-row write, whose cost is mostly the statement and the commit.
# The same two ratios follow from the server CPU per transaction (all
# postgres processes, from /proc), which background load on a shared
# machine disturbs less than TPS.
# Then the same once more, interleaved: three copies of the table, one per
# mode, and one pgbench run per workload choosing the mode per transaction
# (mean latencies from pgbench's per-transaction log).  These are the robust
# figures on a noisy machine.
# The workloads run in the order insert, multi, update, delete, so that the
# DELETEs (ids taken in order from a sequence) always find a row; a DELETE
# that finds none fails the benchmark (RETURNING ... \gset).
# Sourced by test/bench/run.sh.

AUDIT_ROWS=${AUDIT_ROWS:-500000}
AUDIT_TENANTS=1000
BDIR=$TR_TMP/bench_audit
mkdir -p "$BDIR"
chmod 777 "$BDIR"

bench_psql -d postgres <<SQL
CREATE EXTENSION tenant_rls;
\i $TR_SRC/test/bench/plpgsql_audit_reference.sql
CREATE TABLE public.bench_items (
    id         bigserial PRIMARY KEY,
    tenant_id  text        NOT NULL,
    name       text        NOT NULL,
    qty        integer     NOT NULL,
    price      numeric(10,2) NOT NULL,
    note       text,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ON public.bench_items (tenant_id);
CREATE SEQUENCE public.bench_del_seq;
SQL


cat >"$BDIR/insert.sql" <<SQL
\set t random(1, $AUDIT_TENANTS)
INSERT INTO public.bench_items (tenant_id, name, qty, price, note) VALUES ('t' || :t, 'widget', :t, 9.99, 'a short note about the item');
SQL
cat >"$BDIR/update.sql" <<SQL
\set id random(1, $AUDIT_ROWS)
UPDATE public.bench_items SET qty = qty + 1 WHERE id = :id;
SQL
cat >"$BDIR/delete.sql" <<SQL
SELECT nextval('public.bench_del_seq') AS did \gset
DELETE FROM public.bench_items WHERE id = :did RETURNING id AS deleted \gset
SQL
cat >"$BDIR/multi.sql" <<SQL
\set t random(1, $AUDIT_TENANTS)
INSERT INTO public.bench_items (tenant_id, name, qty, price, note)
SELECT 't' || :t, 'widget', i, 9.99, 'a short note about the item' FROM generate_series(1, 1000) i;
SQL
chmod 644 "$BDIR"/*.sql

# The same rows for everybody, then the modes take turns on that table: for
# each workload, AUDIT_ROUNDS rounds of none / audit / plpgsql, each cell
# BENCH_SECONDS / AUDIT_ROUNDS long.  The best round of each mode is reported:
# on a machine shared with other work, interleaving and best-of keep the
# background load from landing on one mode only.
AUDIT_ROUNDS=${AUDIT_ROUNDS:-3}
# AUDIT_WORKLOADS: a subset, e.g. "multi" (keep this order: delete last)
AUDIT_WORKLOADS=${AUDIT_WORKLOADS:-insert multi update delete}
CELL_SECONDS=$(( BENCH_SECONDS / AUDIT_ROUNDS ))
[ "$CELL_SECONDS" -ge 2 ] || CELL_SECONDS=2

bench_psql -d postgres <<SQL
INSERT INTO public.bench_items (tenant_id, name, qty, price, note)
SELECT 't' || (1 + i % $AUDIT_TENANTS), 'widget', i % 100, 9.99, 'a short note about the item'
  FROM generate_series(1, $AUDIT_ROWS) i;
VACUUM ANALYZE public.bench_items;
SELECT tenant_rls.audit_maintain();
SQL

# Interleaved: three copies of the table with the same rows, one per mode,
# and one pgbench run per workload that picks none, audit or plpgsql at random
# for every transaction.  The three modes then share the machine at the same
# moments, so background load on a shared machine cancels out of the ratios.
# The mean latency of each mode comes from pgbench's per-transaction log.
for m in none audit plpgsql; do
	# (auto-protection attaches the audit trigger to a new table: taken off,
	# then put back on bench_mix_audit only)
	bench_psql -d postgres -q <<SQL >/dev/null
SET client_min_messages = warning;
CREATE TABLE public.bench_mix_$m (LIKE public.bench_items INCLUDING ALL);
SELECT tenant_rls.disable_audit('public.bench_mix_$m');
INSERT INTO public.bench_mix_$m SELECT * FROM public.bench_items;
-- ids of its own: bench_items' sequence must leave no gaps for its DELETEs
CREATE SEQUENCE public.bench_mix_id_$m;
SELECT setval('public.bench_mix_id_$m', (SELECT max(id) FROM public.bench_mix_$m));
ALTER TABLE public.bench_mix_$m ALTER COLUMN id SET DEFAULT nextval('public.bench_mix_id_$m');
CREATE SEQUENCE public.bench_mix_del_$m;
VACUUM ANALYZE public.bench_mix_$m;
SQL
	for w in insert update delete multi; do
		sed -e "s/public\.bench_items/public.bench_mix_$m/g" -e "s/public\.bench_del_seq/public.bench_mix_del_$m/g" \
			"$BDIR/$w.sql" >"$BDIR/mix_${w}_$m.sql"
	done
done
chmod 644 "$BDIR"/mix_*.sql
bench_psql -d postgres -q <<SQL >/dev/null
SELECT tenant_rls.enable_audit('public.bench_mix_audit');
-- each table has the triggers of its mode only
DO \$\$
BEGIN
    IF (SELECT count(*) FROM pg_trigger WHERE NOT tgisinternal
           AND tgrelid IN ('public.bench_mix_none'::regclass, 'public.bench_mix_plpgsql'::regclass)) <> 0
       OR (SELECT count(*) FROM pg_trigger WHERE NOT tgisinternal
              AND tgrelid = 'public.bench_mix_audit'::regclass) <> 2 THEN
        RAISE EXCEPTION 'interleaved benchmark tables have the wrong triggers';
    END IF;
END
\$\$;
CREATE TRIGGER bench_ref_audit AFTER INSERT OR UPDATE OR DELETE ON public.bench_mix_plpgsql
    FOR EACH ROW EXECUTE FUNCTION public.bench_ref_audit();
SQL
declare -A MIX
for w in $AUDIT_WORKLOADS; do
	bench_psql -d postgres -qc "CHECKPOINT"
	out=$BDIR/mix.$w
	bench_pgbench -n -M prepared -c 2 -j 2 -T "$(( CELL_SECONDS * AUDIT_ROUNDS ))" -l --log-prefix="$out.log" \
		-f "$BDIR/mix_${w}_none.sql@1" -f "$BDIR/mix_${w}_audit.sql@1" -f "$BDIR/mix_${w}_plpgsql.sql@1" \
		postgres >"$out.out" 2>&1 || { cat "$out.out"; echo "pgbench failed: interleaved $w"; exit 1; }
	MIX[$w]=$(cat "$out".log.* | awk '{ s[$4] += $3; c[$4]++ }
		END { for (i = 0; i < 3; i++) printf "%.4f ", (c[i] ? s[i] / c[i] / 1000 : 0) }')
	rm -f "$out".log.*
	echo "  $w interleaved: mean latency none / audit / plpgsql (ms): ${MIX[$w]}"
done
bench_psql -d postgres -q <<SQL >/dev/null
SET client_min_messages = warning;
SELECT tenant_rls.disable_audit('public.bench_mix_audit');
DROP TABLE public.bench_mix_none, public.bench_mix_audit, public.bench_mix_plpgsql;
SQL

set_mode() {	# set_mode MODE: the triggers of that mode on bench_items
	bench_psql -d postgres -q <<SQL >/dev/null
SET client_min_messages = warning;
SELECT tenant_rls.disable_audit('public.bench_items');
DROP TRIGGER IF EXISTS bench_ref_audit ON public.bench_items;
SQL
	case $1 in
		audit) bench_psql -d postgres -c "SELECT tenant_rls.enable_audit('public.bench_items')" >/dev/null ;;
		plpgsql) bench_psql -d postgres -c "CREATE TRIGGER bench_ref_audit AFTER INSERT OR UPDATE OR DELETE ON public.bench_items FOR EACH ROW EXECUTE FUNCTION public.bench_ref_audit()" >/dev/null ;;
	esac
}

# Server CPU per transaction: clock ticks of the postmaster, of its exited
# children (the pgbench backends, once reaped) and of its live ones, read
# from /proc before and after each cell.  Steadier than TPS on a shared
# machine: it does not count time the clients or other guests spend.
PM_PID=$(head -1 "$PGDATA/postmaster.pid")
server_ticks() {	# (fields: 1 pid, 4 ppid, 14-17 utime stime cutime cstime)
	cat /proc/[0-9]*/stat 2>/dev/null \
		| awk -v pm="$PM_PID" '$1 == pm || $4 == pm { t += $14 + $15 + $16 + $17 } END { print t + 0 }'
}
HZ=$(getconf CLK_TCK)

declare -A TPS CPU
for w in $AUDIT_WORKLOADS; do
	for round in $(seq 1 "$AUDIT_ROUNDS"); do
		for mode in none audit plpgsql; do
			set_mode "$mode"
			bench_psql -d postgres -qc "CHECKPOINT"
			out=$BDIR/$mode.$w.$round.out
			t0=$(server_ticks)
			bench_pgbench -n -M prepared -c 2 -j 2 -T "$CELL_SECONDS" -f "$BDIR/$w.sql" postgres >"$out" 2>&1 \
				|| { cat "$out"; echo "pgbench failed: $mode $w"; exit 1; }
			sleep 0.5	# the backends exit and are reaped
			t1=$(server_ticks)
			tps=$(bench_tps "$out")
			n=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$out")
			cpu=$(awk -v a="$t0" -v b="$t1" -v n="$n" -v hz="$HZ" 'BEGIN { printf "%.1f", (b - a) * 1e6 / hz / n }')
			printf '  %-7s round %s %-8s %12s tps %10s us server CPU/txn\n' "$w" "$round" "$mode" "$tps" "$cpu"
			if [ -z "${CPU[$mode.$w]:-}" ] || awk -v a="$cpu" -v b="${CPU[$mode.$w]}" 'BEGIN { exit !(a < b) }'; then
				CPU[$mode.$w]=$cpu
			fi
			if [ -z "${TPS[$mode.$w]:-}" ] || awk -v a="$tps" -v b="${TPS[$mode.$w]}" 'BEGIN { exit !(a > b) }'; then
				TPS[$mode.$w]=$tps
			fi
		done
	done
done
set_mode none

bench_psql -d postgres -Atc "SELECT 'audit log entries: ' || count(*) FROM tenant_rls.audit_log"
bench_psql -d postgres -Atc "SELECT 'chains verified: ' || count(*) FILTER (WHERE ok) || ' ok, ' || count(*) FILTER (WHERE NOT ok) || ' broken' FROM tenant_rls.audit_verify()"

echo
printf '%-8s %12s %12s %12s %11s %14s %16s\n' workload none audit plpgsql audit/none audit/plpgsql 'added cost x'
for w in $AUDIT_WORKLOADS; do
	printf '%-8s %12s %12s %12s %11s %14s %16s\n' "$w" "${TPS[none.$w]}" "${TPS[audit.$w]}" "${TPS[plpgsql.$w]}" \
		"$(bench_ratio "${TPS[audit.$w]}" "${TPS[none.$w]}")" "$(bench_ratio "${TPS[audit.$w]}" "${TPS[plpgsql.$w]}")" \
		"$(awk -v n="${TPS[none.$w]}" -v a="${TPS[audit.$w]}" -v p="${TPS[plpgsql.$w]}" \
			'BEGIN { d = 1/a - 1/n; if (d <= 0) print "audit adds nothing"; else printf "%.2f", (1/p - 1/n) / d }')"
done
echo "targets: audit/none >= 0.67; added cost x (PL/pgSQL's added cost / the C trigger's) >= 3"
echo
echo "server CPU per transaction (us, least of the rounds; all postgres processes):"
printf '%-8s %10s %10s %10s %11s %16s\n' workload none audit plpgsql audit/none 'added cost x'
for w in $AUDIT_WORKLOADS; do
	printf '%-8s %10s %10s %10s %11s %16s\n' "$w" "${CPU[none.$w]}" "${CPU[audit.$w]}" "${CPU[plpgsql.$w]}" \
		"$(bench_ratio "${CPU[none.$w]}" "${CPU[audit.$w]}")" \
		"$(awk -v n="${CPU[none.$w]}" -v a="${CPU[audit.$w]}" -v p="${CPU[plpgsql.$w]}" \
			'BEGIN { d = a - n; if (d <= 0) print "audit adds nothing"; else printf "%.2f", (p - n) / d }')"
done
echo "(audit/none here is CPU of none / CPU of audit, comparable to the TPS ratio)"
echo
echo "interleaved (one pgbench run per workload, a mode chosen at random per transaction; mean latency, ms):"
printf '%-8s %10s %10s %10s %11s %16s\n' workload none audit plpgsql audit/none 'added cost x'
for w in $AUDIT_WORKLOADS; do
	echo "$w ${MIX[$w]}" | awk '{ n = $2; a = $3; p = $4
		printf "%-8s %10.4f %10.4f %10.4f %11.3f %16s\n", $1, n, a, p, (a > 0 ? n / a : 0),
			(a > n ? sprintf("%.2f", (p - n) / (a - n)) : "audit adds nothing") }'
done
echo "(the robust figures: the three modes share the machine's load; audit/none = latency none / latency audit)"
