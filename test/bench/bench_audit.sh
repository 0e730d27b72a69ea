# bench_audit.sh -- the cost of auditing a write (issue 5, DESIGN A).
#
# One table, the same data for each of four modes:
#   none      no trigger
#   audit     tenant_rls.enable_audit() (C trigger, per-tenant SHA-256 chain),
#             tenant_rls.audit_delivery = immediate (the default): the
#             committing transaction chains and writes its batches itself
#   deferred  the same trigger with tenant_rls.audit_delivery = deferred: the
#             committing transaction writes its batches into the WAL as one
#             signed message; the delivery worker (a postgres background
#             worker) chains and writes them after the commit
#   plpgsql   test/bench/plpgsql_audit_reference.sql (to_jsonb(OLD/NEW) into a jsonb log)
# and four workloads, pgbench -M prepared -c AUDIT_CLIENTS (default 2) over
# 1,000 tenants:
#   insert  one-row INSERT          update  one-row UPDATE by primary key
#   delete  one-row DELETE by key   multi   1,000-row INSERT ... SELECT (one tenant)
# Prints TPS per cell (best of AUDIT_ROUNDS interleaved rounds), the ratio
# audited/none (target >= 0.67: an audited write costs <= 1.5 x an unaudited
# one) and how many times less the C trigger adds to a write than the PL/pgSQL
# one (target >= 3: "3 x faster than a PL/pgSQL trigger"):
#     (1/plpgsql - 1/none) / (1/audited - 1/none)
# for audit (immediate) and deferred each.  The TPS ratio audited/plpgsql is
# printed too; it cannot reach 3 for a one-row write, whose cost is mostly
# the statement and the commit.
# The same two ratios follow from the server CPU per transaction (all
# postgres processes, from /proc: the backends, the checkpointer, the WAL
# writer and, for deferred, the delivery worker), which background load on a
# shared machine disturbs less than TPS.
#
# Deferred, how it is measured: the cluster preloads tenant_rls (run.sh);
# before each deferred cell tenant_rls.audit_delivery_start() starts the
# worker, pgbench connects with PGOPTIONS='-c tenant_rls.audit_delivery=deferred'
# (the very same script and table as the audit cell: only the setting of the
# session differs), and after pgbench tenant_rls.audit_delivery_wait() waits
# until the worker has written everything; the catch-up time is printed per
# round.  The CPU window of the cell closes after that wait, so the worker's
# whole work for the cell (reading the WAL, checking the MACs, chaining and
# writing) is in the deferred figure.  audit_delivery_stop() then stops the
# worker, so that it reads no WAL during the other modes' cells.  "TPS incl.
# catch-up" = transactions / (pgbench's time + catch-up time): the rate the
# log actually kept up with.  After every audited cell the entries the cell
# added to the log are counted against the rows it changed.
#
# Then the same once more, interleaved, in two pgbench runs per workload,
# each choosing a mode per transaction (mean latencies from pgbench's
# per-transaction log): none / audit / plpgsql with the delivery worker
# stopped, then none / deferred / plpgsql with it running, each on copies of
# the table of their own.  These are the robust figures on a noisy machine.
# Two runs, not one with all four modes: in one run the worker's CPU and its
# transactions (up to 64 commits, each tenant's chain locked until it
# commits) were charged to the immediate commits too, which then waited for
# the chains of tenants the worker was writing (session 30: immediate
# audited/none 0.57-0.69 with deferred commits in the run, 0.67-0.73
# without).  Every script sets the mode for its own transaction only,
# inside the statement (WITH ... set_config('tenant_rls.audit_delivery',
# 'deferred' or 'immediate', true)), so every mode pays the same wrapper.
# The worker's CPU in the deferred run is shared by its three modes (the
# latencies include the time the worker takes the CPU away from the
# backends on a small machine).
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
# each workload, AUDIT_ROUNDS rounds of none / audit / deferred / plpgsql, each cell
# BENCH_SECONDS / AUDIT_ROUNDS long.  The best round of each mode is reported:
# on a machine shared with other work, interleaving and best-of keep the
# background load from landing on one mode only.
AUDIT_ROUNDS=${AUDIT_ROUNDS:-3}
# AUDIT_WORKLOADS: a subset, e.g. "multi" (keep this order: delete last)
AUDIT_WORKLOADS=${AUDIT_WORKLOADS:-insert multi update delete}
# AUDIT_CLIENTS: pgbench clients (and threads).  2 saturates a 2-core machine,
# so that the delivery worker's CPU is taken from the backends; 1 leaves it a
# core, like a server with cores to spare.
AUDIT_CLIENTS=${AUDIT_CLIENTS:-2}
CELL_SECONDS=$(( BENCH_SECONDS / AUDIT_ROUNDS ))
[ "$CELL_SECONDS" -ge 2 ] || CELL_SECONDS=2

bench_psql -d postgres <<SQL
INSERT INTO public.bench_items (tenant_id, name, qty, price, note)
SELECT 't' || (1 + i % $AUDIT_TENANTS), 'widget', i % 100, 9.99, 'a short note about the item'
  FROM generate_series(1, $AUDIT_ROWS) i;
VACUUM ANALYZE public.bench_items;
SELECT tenant_rls.audit_maintain();
SQL


# Deferred delivery: helpers.  The worker runs only while deferred cells run
# (and during the interleaved run), so it reads no WAL in the other cells.
logged_entries() {	# logged_entries TABLE: the changes of TABLE in the audit log
	bench_psql -d postgres -Atc "SELECT coalesce(sum(entries), 0) FROM tenant_rls.audit_batch WHERE table_oid = '$1'::regclass"
}
delivered_batches() {	# batches the worker has written since it started
	bench_psql -d postgres -Atc "SELECT batches_delivered FROM tenant_rls.audit_delivery_status()"
}
delivery_start() {
	bench_psql -d postgres -qc "SELECT tenant_rls.audit_delivery_start()" >/dev/null
	for _ in $(seq 1 100); do
		[ "$(bench_psql -d postgres -Atc 'SELECT worker_running FROM tenant_rls.audit_delivery_status()')" = t ] && return 0
		sleep 0.1
	done
	echo "the audit delivery worker did not start"
	exit 1
}
delivery_stop() {
	bench_psql -d postgres -qc "SELECT tenant_rls.audit_delivery_stop('5 min')" >/dev/null \
		|| { echo "audit_delivery_stop() failed"; exit 1; }
}
# delivery_catch_up: right after pgbench, the lag (WAL bytes not yet read by
# the worker, transactions read but not yet written), then how long
# audit_delivery_wait() takes.  Prints "lag_bytes pending seconds".
delivery_catch_up() {
	local r
	r=$(bench_psql -d postgres -At -F ' ' <<'SQL'
SELECT lag_bytes, pending_transactions FROM tenant_rls.audit_delivery_status() \gset
SELECT clock_timestamp() AS w0 \gset
SELECT tenant_rls.audit_delivery_wait('5 min') AS ok \gset
SELECT :lag_bytes, :pending_transactions, :'ok' AND messages_rejected = 0,
       round(extract(epoch FROM clock_timestamp() - :'w0'::timestamptz)::numeric, 3)
  FROM tenant_rls.audit_delivery_status();
SQL
)
	set -- $r
	[ "${3:-}" = t ] || { echo "audit_delivery_wait() timed out, or the worker rejected messages: $r"; exit 1; }
	echo "$1 $2 $4"
}
VERIFY_FAILED=0
check_entries() {	# check_entries WHAT EXPECTED GOT
	if [ "$2" != "$3" ]; then
		echo "  ENTRIES MISMATCH: $1: $2 audited row changes, $3 entries in the log"
		VERIFY_FAILED=1
	fi
}
declare -A ROWS_PER_TXN=([insert]=1 [update]=1 [delete]=1 [multi]=1000)

# Interleaved: copies of the table with the same rows, one per mode and run
# (the DELETEs take ids in order: each table is deleted from by one run),
# and per workload two pgbench runs that pick a mode at random for every
# transaction: none_i / audit / plpgsql_i with the delivery worker stopped,
# none_d / deferred / plpgsql_d with it running.  The modes of a run share
# the machine at the same moments, so background load on a shared machine
# cancels out of the ratios.  The mean latency of each mode comes from
# pgbench's per-transaction log.
MIX_IMMEDIATE="none_i audit plpgsql_i"
MIX_DEFERRED="none_d deferred plpgsql_d"
for m in $MIX_IMMEDIATE $MIX_DEFERRED; do
	# (auto-protection attaches the audit trigger to a new table: taken off,
	# then put back on bench_mix_audit and bench_mix_deferred only)
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
done
# The interleaved scripts: the same statements for every mode, each
# setting tenant_rls.audit_delivery for its own (implicit) transaction --
# deferred for the deferred table, immediate for the others -- inside
# the statement, so every mode pays the same wrapper; set_config(..., true)
# is undone at the statement's end.
# MATERIALIZED: evaluated once per statement, also in the 1,000-row INSERT.
for m in $MIX_IMMEDIATE $MIX_DEFERRED; do
	v=immediate
	[ "$m" = deferred ] && v=deferred
	WRAP="WITH m AS MATERIALIZED (SELECT pg_catalog.set_config('tenant_rls.audit_delivery', '$v', true) AS d)"
	cat >"$BDIR/mix_insert_$m.sql" <<SQL
\set t random(1, $AUDIT_TENANTS)
$WRAP INSERT INTO public.bench_mix_$m (tenant_id, name, qty, price, note) SELECT 't' || :t, 'widget', :t, 9.99, 'a short note about the item' FROM m;
SQL
	cat >"$BDIR/mix_update_$m.sql" <<SQL
\set id random(1, $AUDIT_ROWS)
$WRAP UPDATE public.bench_mix_$m SET qty = qty + 1 FROM m WHERE id = :id;
SQL
	cat >"$BDIR/mix_delete_$m.sql" <<SQL
SELECT nextval('public.bench_mix_del_$m') AS did \gset
$WRAP DELETE FROM public.bench_mix_$m USING m WHERE id = :did RETURNING id AS deleted \gset
SQL
	cat >"$BDIR/mix_multi_$m.sql" <<SQL
\set t random(1, $AUDIT_TENANTS)
$WRAP INSERT INTO public.bench_mix_$m (tenant_id, name, qty, price, note)
SELECT 't' || :t, 'widget', i, 9.99, 'a short note about the item' FROM m, generate_series(1, 1000) i;
SQL
done
chmod 644 "$BDIR"/mix_*.sql
bench_psql -d postgres -q <<SQL >/dev/null
SELECT tenant_rls.enable_audit('public.bench_mix_audit');
SELECT tenant_rls.enable_audit('public.bench_mix_deferred');
-- each table has the triggers of its mode only
DO \$\$
BEGIN
    IF (SELECT count(*) FROM pg_trigger WHERE NOT tgisinternal
           AND tgrelid IN ('public.bench_mix_none_i'::regclass, 'public.bench_mix_plpgsql_i'::regclass,
                           'public.bench_mix_none_d'::regclass, 'public.bench_mix_plpgsql_d'::regclass)) <> 0
       OR (SELECT count(*) FROM pg_trigger WHERE NOT tgisinternal
              AND tgrelid = 'public.bench_mix_audit'::regclass) <> 2
       OR (SELECT count(*) FROM pg_trigger WHERE NOT tgisinternal
              AND tgrelid = 'public.bench_mix_deferred'::regclass) <> 2 THEN
        RAISE EXCEPTION 'interleaved benchmark tables have the wrong triggers';
    END IF;
END
\$\$;
CREATE TRIGGER bench_ref_audit AFTER INSERT OR UPDATE OR DELETE ON public.bench_mix_plpgsql_i
    FOR EACH ROW EXECUTE FUNCTION public.bench_ref_audit();
CREATE TRIGGER bench_ref_audit AFTER INSERT OR UPDATE OR DELETE ON public.bench_mix_plpgsql_d
    FOR EACH ROW EXECUTE FUNCTION public.bench_ref_audit();
SQL
# mix_run WORKLOAD MODE... -> the mean latency (ms) of each mode, in order
mix_run() {
	local w=$1 out=$BDIR/mix.$1.$2 files="" m
	shift
	for m in "$@"; do files="$files -f $BDIR/mix_${w}_$m.sql@1"; done
	# shellcheck disable=SC2086
	bench_pgbench -n -M prepared -c "$AUDIT_CLIENTS" -j "$AUDIT_CLIENTS" -T "$(( CELL_SECONDS * AUDIT_ROUNDS ))" -l --log-prefix="$out.log" \
		$files postgres >"$out.out" 2>&1 || { cat "$out.out" >&2; echo "pgbench failed: interleaved $w $*" >&2; exit 1; }
	bench_log_means "$out.log" "$#"
	# transactions of the second mode (audit, resp. deferred)
	cat "$out".log.* | awk '$4 == 1 { c++ } END { print c + 0 }' >"$out.n"
	rm -f "$out".log.*
}
declare -A MIX MIXD MIXCATCH
for w in $AUDIT_WORKLOADS; do
	bench_psql -d postgres -qc "CHECKPOINT"
	ea0=$(logged_entries public.bench_mix_audit)
	MIX[$w]=$(mix_run "$w" $MIX_IMMEDIATE) || exit 1
	check_entries "interleaved $w audit" "$(( $(cat "$BDIR/mix.$w.none_i.n") * ROWS_PER_TXN[$w] ))" "$(( $(logged_entries public.bench_mix_audit) - ea0 ))"
	echo "  $w interleaved, worker stopped: mean latency none / audit / plpgsql (ms): ${MIX[$w]}"
	delivery_start
	bench_psql -d postgres -qc "CHECKPOINT"
	ed0=$(logged_entries public.bench_mix_deferred)
	b0=$(delivered_batches)
	MIXD[$w]=$(mix_run "$w" $MIX_DEFERRED) || exit 1
	MIXCATCH[$w]=$(delivery_catch_up)
	b1=$(delivered_batches)
	nd=$(cat "$BDIR/mix.$w.none_d.n")
	check_entries "interleaved $w deferred" "$(( nd * ROWS_PER_TXN[$w] ))" "$(( $(logged_entries public.bench_mix_deferred) - ed0 ))"
	[ "$(( b1 - b0 ))" = "$nd" ] || { echo "  DEFERRED NOT DEFERRED: interleaved $w: $nd deferred transactions, the worker wrote $(( b1 - b0 )) batches"; VERIFY_FAILED=1; }
	set -- ${MIXCATCH[$w]}
	echo "  $w interleaved, worker running: mean latency none / deferred / plpgsql (ms): ${MIXD[$w]}"
	echo "  $w interleaved: delivery lag when pgbench stopped: ${1} WAL bytes, ${2} transactions read but not written; caught up in ${3} s"
	delivery_stop
done
bench_psql -d postgres -q <<SQL >/dev/null
SET client_min_messages = warning;
SELECT tenant_rls.disable_audit('public.bench_mix_audit');
SELECT tenant_rls.disable_audit('public.bench_mix_deferred');
DROP TABLE public.bench_mix_none_i, public.bench_mix_audit, public.bench_mix_plpgsql_i,
           public.bench_mix_none_d, public.bench_mix_deferred, public.bench_mix_plpgsql_d;
SQL

set_mode() {	# set_mode MODE: the triggers of that mode on bench_items
	bench_psql -d postgres -q <<SQL >/dev/null
SET client_min_messages = warning;
SELECT tenant_rls.disable_audit('public.bench_items');
DROP TRIGGER IF EXISTS bench_ref_audit ON public.bench_items;
SQL
	case $1 in
		audit|deferred) bench_psql -d postgres -c "SELECT tenant_rls.enable_audit('public.bench_items')" >/dev/null ;;
		plpgsql) bench_psql -d postgres -c "CREATE TRIGGER bench_ref_audit AFTER INSERT OR UPDATE OR DELETE ON public.bench_items FOR EACH ROW EXECUTE FUNCTION public.bench_ref_audit()" >/dev/null ;;
	esac
}

# Server CPU per transaction: clock ticks of the postmaster, of its exited
# children (the pgbench backends, once reaped) and of its live ones (the
# backends, checkpointer, WAL writer, the delivery launcher and worker: all
# children of the postmaster), read from /proc before and after each cell.
# Steadier than TPS on a shared machine: it does not count time the clients
# or other guests spend.
PM_PID=$(head -1 "$PGDATA/postmaster.pid")
server_ticks() {	# (fields: 1 pid, 4 ppid, 14-17 utime stime cutime cstime)
	cat /proc/[0-9]*/stat 2>/dev/null \
		| awk -v pm="$PM_PID" '$1 == pm || $4 == pm { t += $14 + $15 + $16 + $17 } END { print t + 0 }'
}
HZ=$(getconf CLK_TCK)
# (the delivery worker must be one of them, or the deferred CPU is wrong)
delivery_start
wpid=$(bench_psql -d postgres -Atc "SELECT worker_pid FROM tenant_rls.audit_delivery_status()")
[ "$(awk '{ print $4 }' "/proc/$wpid/stat")" = "$PM_PID" ] \
	|| { echo "the delivery worker ($wpid) is not a child of the postmaster: its CPU would not be counted"; exit 1; }
delivery_stop

AUDIT_MODES="none audit deferred plpgsql"
declare -A TPS CPU EFF CATCH
for w in $AUDIT_WORKLOADS; do
	for round in $(seq 1 "$AUDIT_ROUNDS"); do
		for mode in $AUDIT_MODES; do
			set_mode "$mode"
			opts=
			if [ "$mode" = deferred ]; then
				delivery_start
				opts="-c tenant_rls.audit_delivery=deferred"
				b0=$(delivered_batches)
			fi
			bench_psql -d postgres -qc "CHECKPOINT"
			case $mode in audit|deferred) e0=$(logged_entries public.bench_items) ;; esac
			out=$BDIR/$mode.$w.$round.out
			t0=$(server_ticks)
			PGOPTIONS=$opts bench_pgbench -n -M prepared -c "$AUDIT_CLIENTS" -j "$AUDIT_CLIENTS" -T "$CELL_SECONDS" -f "$BDIR/$w.sql" postgres >"$out" 2>&1 \
				|| { cat "$out"; echo "pgbench failed: $mode $w"; exit 1; }
			catch=
			[ "$mode" = deferred ] && catch=$(delivery_catch_up)
			sleep 0.5	# the backends exit and are reaped
			t1=$(server_ticks)
			tps=$(bench_tps "$out")
			n=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$out")
			cpu=$(awk -v a="$t0" -v b="$t1" -v n="$n" -v hz="$HZ" 'BEGIN { printf "%.1f", (b - a) * 1e6 / hz / n }')
			printf '  %-7s round %s %-8s %12s tps %10s us server CPU/txn\n' "$w" "$round" "$mode" "$tps" "$cpu"
			case $mode in audit|deferred)
				check_entries "$mode $w round $round" "$(( n * ROWS_PER_TXN[$w] ))" "$(( $(logged_entries public.bench_items) - e0 ))" ;;
			esac
			if [ "$mode" = deferred ]; then
				b1=$(delivered_batches)
				delivery_stop
				[ "$(( b1 - b0 ))" = "$n" ] || { echo "  DEFERRED NOT DEFERRED: $w round $round: $n transactions, the worker wrote $(( b1 - b0 )) batches"; VERIFY_FAILED=1; }
				set -- $catch
				eff=$(awk -v n="$n" -v tps="$tps" -v s="$3" 'BEGIN { printf "%.6f", n / (n / tps + s) }')
				printf '  %-7s round %s %-8s lag when pgbench stopped: %s WAL bytes, %s transactions read but not written; caught up in %s s; %s tps incl. catch-up\n' \
					"$w" "$round" "$mode" "$1" "$2" "$3" "$eff"
				if [ -z "${EFF[$w]:-}" ] || awk -v a="$eff" -v b="${EFF[$w]}" 'BEGIN { exit !(a > b) }'; then
					EFF[$w]=$eff
				fi
				if [ -z "${CATCH[$w]:-}" ] || awk -v a="$3" -v b="${CATCH[$w]}" 'BEGIN { exit !(a > b) }'; then
					CATCH[$w]=$3
				fi
			fi
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
if [ "$VERIFY_FAILED" = 0 ] && [ "$(bench_psql -d postgres -Atc 'SELECT count(*) FROM tenant_rls.audit_verify() WHERE NOT ok')" = 0 ]; then
	echo "deferred delivery verified: in every audited cell (immediate and deferred, interleaved too) the log got exactly one entry per changed row, every deferred transaction was delivered by the worker, every chain verifies"
else
	VERIFY_FAILED=1
	echo "VERIFICATION FAILED (see the lines above)"
fi

# added cost x from TPS: (1/plpgsql - 1/none) / (1/audited - 1/none)
added_tps() { awk -v n="$1" -v a="$2" -v p="$3" 'BEGIN { d = 1/a - 1/n; if (d <= 0) print "adds nothing"; else printf "%.2f", (1/p - 1/n) / d }'; }
# added cost x from CPU or latency: (plpgsql - none) / (audited - none)
added_lin() { awk -v n="$1" -v a="$2" -v p="$3" 'BEGIN { d = a - n; if (d <= 0) print "adds nothing"; else printf "%.2f", (p - n) / d }'; }

echo
echo "TPS (best of $AUDIT_ROUNDS rounds of ${CELL_SECONDS} s; imm = audit, immediate delivery; def = deferred delivery):"
printf '%-8s %11s %11s %11s %11s %8s %8s %9s %9s %10s %10s\n' workload none audit deferred plpgsql \
	imm/none def/none imm/plpg def/plpg 'added x imm' 'added x def'
for w in $AUDIT_WORKLOADS; do
	n=${TPS[none.$w]} a=${TPS[audit.$w]} d=${TPS[deferred.$w]} p=${TPS[plpgsql.$w]}
	printf '%-8s %11.1f %11.1f %11.1f %11.1f %8s %8s %9s %9s %10s %10s\n' "$w" "$n" "$a" "$d" "$p" \
		"$(bench_ratio "$a" "$n")" "$(bench_ratio "$d" "$n")" "$(bench_ratio "$a" "$p")" "$(bench_ratio "$d" "$p")" \
		"$(added_tps "$n" "$a" "$p")" "$(added_tps "$n" "$d" "$p")"
done
echo "targets: audited/none >= 0.67; added cost x (PL/pgSQL's added cost / the C trigger's) >= 3"
echo
echo "deferred, counting the worker's catch-up: TPS = transactions / (pgbench time + time until audit_delivery_wait() returned):"
printf '%-8s %11s %14s %8s %10s %16s\n' workload none 'def incl. c-up' def/none 'added x' 'max catch-up s'
for w in $AUDIT_WORKLOADS; do
	n=${TPS[none.$w]} e=${EFF[$w]} p=${TPS[plpgsql.$w]}
	printf '%-8s %11.1f %14.1f %8s %10s %16s\n' "$w" "$n" "$e" "$(bench_ratio "$e" "$n")" "$(added_tps "$n" "$e" "$p")" "${CATCH[$w]}"
done
echo
echo "server CPU per transaction (us, least of the rounds; all postgres processes, for deferred incl. the delivery worker until caught up):"
printf '%-8s %10s %10s %10s %10s %9s %9s %11s %11s\n' workload none audit deferred plpgsql imm/none def/none 'added x imm' 'added x def'
for w in $AUDIT_WORKLOADS; do
	n=${CPU[none.$w]} a=${CPU[audit.$w]} d=${CPU[deferred.$w]} p=${CPU[plpgsql.$w]}
	printf '%-8s %10s %10s %10s %10s %9s %9s %11s %11s\n' "$w" "$n" "$a" "$d" "$p" \
		"$(bench_ratio "$n" "$a")" "$(bench_ratio "$n" "$d")" "$(added_lin "$n" "$a" "$p")" "$(added_lin "$n" "$d" "$p")"
done
echo "(imm/none here is CPU of none / CPU of audit, comparable to the TPS ratio; def/none likewise)"
echo
echo "interleaved (per workload two pgbench runs, a mode chosen at random per transaction; mean latency, ms):"
echo " immediate: none / audit / plpgsql, the delivery worker stopped"
echo " deferred:  none / deferred / plpgsql, the worker running (it takes its CPU from all three modes)"
printf '%-8s %-9s %10s %10s %10s %9s %9s %12s\n' workload run none audited plpgsql aud/none 'added x' 'catch-up s'
for w in $AUDIT_WORKLOADS; do
	set -- ${MIX[$w]}
	printf '%-8s %-9s %10.4f %10.4f %10.4f %9s %9s %12s\n' "$w" immediate "$1" "$2" "$3" \
		"$(bench_ratio "$1" "$2")" "$(added_lin "$1" "$2" "$3")" "-"
	c=$(echo "${MIXCATCH[$w]}" | awk '{ print $3 }')
	set -- ${MIXD[$w]}
	printf '%-8s %-9s %10.4f %10.4f %10.4f %9s %9s %12s\n' "" deferred "$1" "$2" "$3" \
		"$(bench_ratio "$1" "$2")" "$(added_lin "$1" "$2" "$3")" "$c"
done
echo "(the robust figures: the modes of a run share the machine's load; aud/none = latency none / latency audited;"
echo " added x = PL/pgSQL's added latency / the C trigger's; targets >= 0.67 and >= 3)"
[ "$VERIFY_FAILED" = 0 ] || exit 1
