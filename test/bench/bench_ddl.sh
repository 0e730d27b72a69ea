# bench_ddl.sh -- what auto-protection adds to CREATE TABLE (DESIGN target: <= 5 ms).
#
# Times BENCH_DDL_TABLES (default 300) CREATE TABLE statements, each in its own
# transaction, with tenant_rls.auto_protect off and on, alternating, 3 rounds;
# keeps the fastest round of each and prints ms per table and the difference.
# With auto_protect on, every table has the tenant column and is protected by
# the ddl_command_end trigger calling protect(), in the same transaction.
# A third mode creates the tables with auto_protect off and calls protect()
# explicitly after each, which splits the cost between protect() and the trigger.
# Sourced by test/bench/run.sh (cluster started, helpers defined).

n=${BENCH_DDL_TABLES:-300}
bench_psql -d postgres -c "CREATE EXTENSION IF NOT EXISTS tenant_rls"
bench_psql -d postgres -c "ALTER DATABASE postgres SET tenant_rls.audit = off"

ddl_script() {	# ddl_script on|off|explicit round
	local i
	if [ "$1" = on ]; then echo "SET tenant_rls.auto_protect = on;"; else echo "SET tenant_rls.auto_protect = off;"; fi
	for i in $(seq 1 "$n"); do
		echo "CREATE TABLE public.bench_${1}_${2}_$i (id bigint PRIMARY KEY, tenant_id text NOT NULL, payload text);"
		# explicit: the same protection, by calling protect() without the trigger
		[ "$1" = explicit ] && echo "SELECT count(*) FROM tenant_rls.protect('public.bench_${1}_${2}_$i');"
	done
}

time_ms() {	# time_ms FILE: wall time of running FILE, in ms
	local t0 t1
	t0=$(date +%s%N)
	bench_psql -d postgres -f "$1" >/dev/null
	t1=$(date +%s%N)
	echo $(( (t1 - t0) / 1000000 ))
}

best_off=""; best_on=""; best_explicit=""
for round in 1 2 3; do
	for mode in off on explicit; do
		f=$TR_TMP/bench_ddl_${mode}_$round.sql
		ddl_script "$mode" "$round" >"$f"
		ms=$(time_ms "$f")
		case $mode in
			off) if [ -z "$best_off" ] || [ "$ms" -lt "$best_off" ]; then best_off=$ms; fi ;;
			on) if [ -z "$best_on" ] || [ "$ms" -lt "$best_on" ]; then best_on=$ms; fi ;;
			explicit) if [ -z "$best_explicit" ] || [ "$ms" -lt "$best_explicit" ]; then best_explicit=$ms; fi ;;
		esac
	done
done

protected=$(bench_psql -d postgres -At -c "SELECT count(*) FROM tenant_rls.protected_table WHERE table_name LIKE 'bench\_on\_%'")
unprotected=$(bench_psql -d postgres -At -c "SELECT count(*) FROM pg_class WHERE relname LIKE 'bench\_off\_%' AND relkind = 'r' AND relrowsecurity")
awk -v n="$n" -v off="$best_off" -v on="$best_on" -v ex="$best_explicit" -v p="$protected" -v u="$unprotected" 'BEGIN {
	printf "ddl: %d CREATE TABLE per run, best of 3 runs\n", n
	printf "ddl: auto_protect off                  %8.3f ms per table  (%d ms)\n", off / n, off
	printf "ddl: auto_protect on                   %8.3f ms per table  (%d ms)\n", on / n, on
	printf "ddl: off + explicit protect() call     %8.3f ms per table  (%d ms)\n", ex / n, ex
	printf "ddl: added by auto-protection: %.3f ms per table (target <= 5 ms)\n", (on - off) / n
	printf "ddl:   of which protect() itself: %.3f ms, the event trigger: %.3f ms\n", (ex - off) / n, (on - ex) / n
	printf "ddl: tables protected with auto_protect on: %d of %d; with it off: %d\n", p, 3 * n, u
}'
