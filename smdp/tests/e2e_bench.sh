#!/usr/bin/env bash
# e2e_bench.sh - smoke test of the benchmark (build/smdp-bench, issue 8): a
# few seconds against build/smdp on loopback. Checks that each mode runs and
# reports sane, self-consistent fields, that what it counted agrees with the
# server's own database (sqlite3 CLI) and with the protocol (four ES9+ calls
# per download), that the ratio to the crypto floor is computed, and that
# failures are reported as failures; then scripts/bench-instructions and
# scripts/bench themselves in tiny runs. It never asserts on speed.
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
SMDP=$BUILD/smdp
BENCH=$BUILD/smdp-bench
PORT_NIST=${E2E_BENCH_PORT:-18560}
PORT_BRP=$((PORT_NIST + 1))
PORT_DEAD=$((PORT_NIST + 2))   # nothing listens there
FQDN=testsmdpplus1.example.com
P=TS48v1_A
tmp=$(mktemp -d)
pass=0
fail=0
pid=

cleanup() {
	if [ -n "$pid" ]; then kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; fi
	rm -rf "$tmp"
}
trap cleanup EXIT

check() {   # check DESCRIPTION COMMAND...
	local d=$1; shift
	if "$@"; then pass=$((pass + 1)); echo "ok - $d"
	else fail=$((fail + 1)); echo "not ok - $d"; fi
}

# num FILE REGEX: the number captured by REGEX's first group in FILE
num() { sed -nE "s/.*$2.*/\1/p" "$1" | head -n1; }
# awk-evaluated condition, true/false as exit status
cond() { awk "BEGIN { exit !($1) }"; }
field_is() {   # field_is FILE REGEX EXPECTED
	local v; v=$(num "$1" "$2")
	[ "$v" = "$3" ] && return 0
	echo "    /$2/ is '$v', expected '$3'"; return 1
}

: >"$tmp/server.log"
"$SMDP" --db "$tmp/b.db" --listen.nist 127.0.0.1:$PORT_NIST \
	--listen.brainpool 127.0.0.1:$PORT_BRP --threads 16 >"$tmp/server.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do
	grep -q "listening on.*$PORT_BRP" "$tmp/server.log" && break
	sleep 0.1
done
check "server started" grep -q "listening on.*$PORT_BRP" "$tmp/server.log"

# --- usage ---
"$BENCH" --help >"$tmp/help" 2>&1
check "--help exits 0 and names the three modes" grep -q "run|floor|inflight" "$tmp/help"
"$BENCH" run --concurrency 0 >/dev/null 2>&1
check "--concurrency 0 is a usage error (64)" test $? -eq 64
"$BENCH" sprint >/dev/null 2>&1
check "an unknown mode is a usage error (64)" test $? -eq 64

# --- floor: counts from es9p.c/bpp.c/pki.c, sizes from the profile file ---
"$BENCH" floor --pki certs/sgp26-nist --profile $P --floor-time 0.2 >"$tmp/floor.json" \
	2>"$tmp/floor.err"
check "floor exits 0" test $? -eq 0
check "floor counts 3 signatures and 5 verifications per download" \
	grep -q '"signs":3,"verifies":5' "$tmp/floor.json"
check "floor profile_bytes is the size of profiles/$P.der" \
	field_is "$tmp/floor.json" '"profile_bytes":([0-9]+)' "$(wc -c <profiles/$P.der)"
bsp=$(num "$tmp/floor.json" '"bsp_bytes":([0-9]+)')
check "the BSP covers at least the whole profile" cond "${bsp:-0} >= $(wc -c <profiles/$P.der)"
fl=$(num "$tmp/floor.json" '"floor_ms":([0-9.]+)')
sign=$(num "$tmp/floor.json" '"sign":([0-9.]+)')
ver=$(num "$tmp/floor.json" '"verify":([0-9.]+)')
check "floor is positive and at least 3 signs + 5 verifies of its own breakdown (-20%)" \
	cond "${fl:-0} > 0 && ${fl:-0} * 1000 >= 0.8 * (3 * ${sign:-0} + 5 * ${ver:-0})"

# --- run, NIST: 2 connections, 10 counted downloads ---
"$BENCH" run --connect 127.0.0.1:$PORT_NIST --fqdn $FQDN --pki certs/sgp26-nist --profile $P \
	--concurrency 2 --count 10 --server-pid $pid --floor-time 0.2 --csv "$tmp/r.csv" \
	>"$tmp/run.json" 2>"$tmp/run.err"
check "run exits 0" test $? -eq 0
check "run made exactly 10 downloads, no errors" \
	grep -q '"downloads":10,"errors":0,"warmup_errors":0' "$tmp/run.json"
for fn in initiateAuthentication authenticateClient getBoundProfilePackage handleNotification; do
	check "10 timed $fn calls (one per download)" \
		field_is "$tmp/run.json" "\"$fn\":\\{\"n\":([0-9]+)" 10
done
check "10 download latencies" field_is "$tmp/run.json" '"download":\{"n":([0-9]+)' 10
check "no call outside the four functions" field_is "$tmp/run.json" '"other":\{"n":([0-9]+)' 0
p50=$(num "$tmp/run.json" '"download":\{[^}]*"p50":([0-9.]+)')
p95=$(num "$tmp/run.json" '"download":\{[^}]*"p95":([0-9.]+)')
p99=$(num "$tmp/run.json" '"download":\{[^}]*"p99":([0-9.]+)')
max=$(num "$tmp/run.json" '"download":\{[^}]*"max":([0-9.]+)')
check "download percentiles ordered 0 < p50 <= p95 <= p99 <= max" \
	cond "${p50:-0} > 0 && $p50 <= ${p95:-0} && $p95 <= ${p99:-0} && $p99 <= ${max:-0}"
ia=$(num "$tmp/run.json" '"initiateAuthentication":\{[^}]*"p50":([0-9.]+)')
check "a call is shorter than a whole download (p50)" cond "${ia:-0} > 0 && $ia < $p50"
cpu=$(num "$tmp/run.json" '"server":\{[^}]*"cpu_s":([0-9.]+)')
per=$(num "$tmp/run.json" '"cpu_ms_per_op":([0-9.]+),"cpu_util"')
rfl=$(num "$tmp/run.json" '"floor_ms":([0-9.]+)')
ratio=$(num "$tmp/run.json" '"ratio":([0-9.]+)')
check "server CPU was measured (> 0 s)" cond "${cpu:-0} > 0"
check "server CPU per download = CPU / 10 downloads" \
	cond "${per:-0} > 0 && (${per:-0} - $cpu * 100) ^ 2 < 0.01 * ${per:-0} ^ 2"
check "ratio = server CPU per download / floor (within 1%)" \
	cond "${rfl:-0} > 0 && ${ratio:-0} > 0 && (${ratio:-0} - $per / $rfl) ^ 2 < 0.0001 * ${ratio:-0} ^ 2"
hwm=$(num "$tmp/run.json" '"hwm_kb":([0-9]+)')
rss=$(num "$tmp/run.json" '"rss_kb_after":([0-9]+)')
check "peak RSS >= RSS > 0" cond "${rss:-0} > 0 && ${hwm:-0} >= $rss"
check "server threads read from /proc (>= 16 workers)" \
	cond "$(num "$tmp/run.json" '"threads":([0-9]+)') >= 16"
# the server's own record: 2 warm-up + 10 counted downloads, each ending
# with a verified ProfileInstallationResult
check "the server stored 12 verified PIRs" \
	test "$(sqlite3 "$tmp/b.db" 'select count(*) from notifications where verified = 1')" = 12
check "CSV has a header and one row of 31 columns" \
	test "$(awk -F, 'NF == 31' "$tmp/r.csv" | wc -l)" = 2

# --- run, brainpool, 3 downloads; the same CSV gets a second row ---
"$BENCH" run --connect 127.0.0.1:$PORT_BRP --fqdn $FQDN --pki certs/sgp26-brp --profile $P \
	--count 3 --server-pid $pid --floor-time 0.2 --csv "$tmp/r.csv" >"$tmp/brp.json" \
	2>"$tmp/brp.err"
check "brainpool run: 3 downloads, no errors" grep -q '"downloads":3,"errors":0' "$tmp/brp.json"
check "brainpool run reports curve brainpool and a ratio" \
	grep -qE '"curve":"brainpool".*"ratio":[0-9.]*[1-9]' "$tmp/brp.json"
check "CSV: one header, two rows" \
	test "$(grep -c '^curve,' "$tmp/r.csv"),$(wc -l <"$tmp/r.csv")" = "1,3"

# --- run with new devices: --new-euicc issues eUICCs under the PKI's EUM ---
eids_before=$(sqlite3 "$tmp/b.db" 'select count(distinct eid) from notifications where verified = 1')
"$BENCH" run --connect 127.0.0.1:$PORT_NIST --fqdn $FQDN --pki certs/sgp26-nist --profile $P \
	--count 6 --concurrency 2 --new-euicc 600 --floor-ms 1 >"$tmp/new.json" 2>"$tmp/new.err"
check "--new-euicc 600: 6 downloads, no errors, the pool size reported" \
	grep -qE '"new_euicc":600,.*"downloads":6,"errors":0' "$tmp/new.json"
eids_after=$(sqlite3 "$tmp/b.db" 'select count(distinct eid) from notifications where verified = 1')
check "each of the 8 downloads (2 warm-up) came from an eUICC the server had not seen" \
	test "$((eids_after - eids_before))" = 8
# ISO 7064 MOD 97-10 (SGP.29): the 32 digits taken as a number leave 1 mod 97
check "the new EIDs are under the EUM's prefix 89049032 with valid check digits" \
	test "$(sqlite3 "$tmp/b.db" "select distinct eid from notifications where eid like '89049032%'
		and eid <> '89049032123451234512345678901235'" | awk '{ r = 0
		for (i = 1; i <= length($0); i++) r = (r * 10 + substr($0, i, 1)) % 97
		if (length($0) == 32 && r == 1) n++ } END { print n + 0 }')" = 8
"$BENCH" run --connect 127.0.0.1:$PORT_NIST --fqdn $FQDN --pki certs/sgp26-nist --profile $P \
	--count 1 --new-euicc 0.5 >/dev/null 2>&1
check "--new-euicc 0.5 is a usage error (64)" test $? -eq 64

# --- in flight: sessions started and left open ---
before=$(sqlite3 "$tmp/b.db" 'select count(*) from sessions where state = 1')
"$BENCH" inflight --connect 127.0.0.1:$PORT_NIST --fqdn $FQDN --pki certs/sgp26-nist \
	--count 40 --concurrency 2 --server-pid $pid >"$tmp/inf.json" 2>"$tmp/inf.err"
check "inflight exits 0 with 40 sessions, no errors" \
	grep -q '"sessions":40,"errors":0' "$tmp/inf.json"
after=$(sqlite3 "$tmp/b.db" 'select count(*) from sessions where state = 1')
check "42 more sessions left in state AUTH_STARTED (40 + 2 warm-up)" \
	test "$((after - before))" = 42
check "inflight: only initiateAuthentication was called" \
	field_is "$tmp/inf.json" '"authenticateClient":\{"n":([0-9]+)' 0
check "inflight samples RSS as sessions accumulate (>= 2 points)" \
	grep -qE '"rss_kb_by_sessions":\[\[0,[0-9]+\],\[[0-9]+,[0-9]+\]' "$tmp/inf.json"

# --- failures are reported, not counted as downloads ---
"$BENCH" run --connect 127.0.0.1:$PORT_NIST --fqdn $FQDN --pki certs/sgp26-nist \
	--profile NoSuchProfile --count 2 --floor-ms 1 >"$tmp/bad.json" 2>"$tmp/bad.err"
check "unknown matchingId: exit 1" test $? -eq 1
check "unknown matchingId: 0 downloads, errors counted" \
	grep -qE '"downloads":0,"errors":[1-9]' "$tmp/bad.json"
check "unknown matchingId: first error is authenticateClient 8.2.6/3.8 (SGP.22 5.6.3)" \
	grep -q '"first_error":"authenticateClient failed 8.2.6/3.8' "$tmp/bad.json"
timeout 60 "$BENCH" run --connect 127.0.0.1:$PORT_DEAD --fqdn $FQDN --pki certs/sgp26-nist \
	--duration 1 --floor-ms 1 >"$tmp/dead.json" 2>"$tmp/dead.err"
check "no server: exit 1" test $? -eq 1
check "no server: transport error reported" grep -q '"downloads":0.*"first_error":".*transport' \
	"$tmp/dead.json"

check "server still running" kill -0 $pid
kill $pid; wait $pid 2>/dev/null; pid=

# --- instructions per download (scripts/bench-instructions), a tiny run ---
# valgrind cannot run a sanitizer build: skipped under make test-asan
if nm "$SMDP" 2>/dev/null | grep -q __asan_init; then
	echo "ok - instructions per download: skipped (sanitizer build, no valgrind)"
	pass=$((pass + 1))
else
	BUILD=$BUILD BENCH_OUT="$tmp/ir" BENCH_CURVES=nist BENCH_IR_DOWNLOADS=4 BENCH_IR_BASE=2 \
		BENCH_IR_PORT=$((PORT_NIST + 3)) scripts/bench-instructions >"$tmp/ir.out" 2>&1
	check "bench-instructions: exit 0" test $? -eq 0
	# both server counts positive, the floor above a few ECDSA operations'
	# worth, the ratio their quotient
	check "bench-instructions: a row with traces and one without, ratio = server / floor" \
		awk -F, 'NR > 1 && $4 > 0 && $5 > 1000000 {
			r = $4 / $5; if (r - $6 > 0.006 || $6 - r > 0.006) exit 1; n++ }
			END { exit n != 2 }' "$tmp/ir/instructions.csv"
	check "bench-instructions: the table is written" grep -q '^| nist | yes |' "$tmp/ir/instructions.md"
fi
# --- the whole benchmark script (scripts/bench), a tiny run ---
# one curve, one profile, one client, 1 s; what is checked is that every file
# is written, that each row's ratios are its CPU over its floors, and that the
# floors measured beside the runs are there: never the speed itself
BUILD=$BUILD BENCH_OUT="$tmp/sb" BENCH_NO_BUILD=1 BENCH_INSTRUCTIONS=0 BENCH_CURVES=nist \
	BENCH_PROFILES=$P BENCH_CONCURRENCY=1 BENCH_DURATION=1 BENCH_SESSIONS=200 \
	BENCH_FLOOR_ROUNDS=1 BENCH_SPEED_ROUNDS=1 BENCH_NEW_EUICC=16 BENCH_SCALING_CLIENTS=2 \
	BENCH_PORT=$((PORT_NIST + 4)) scripts/bench >"$tmp/sb.out" 2>&1
check "bench: exit 0" test $? -eq 0
check "bench: one matrix row and one new-devices row beside their floors" \
	awk -F, -v p=$P 'NR > 1 && $1 == "nist" && $2 == p && $4 > 0 && $5 > 0 {
		if ($3 == 1) m++; else if ($3 == "new") d++ } END { exit !(m == 1 && d == 1) }' \
	"$tmp/sb/beside.csv"
# summary.md matrix row: server CPU (col 8), floor (9), ratio (10), floor
# beside (12), ratio beside (13); both ratios are quotients of the row's own
# numbers, and the floor beside is the mean of beside.csv's two
check "bench: summary row, ratio = CPU / floor and ratio beside = CPU / floor beside" \
	awk -F'|' -v bcsv="$tmp/sb/beside.csv" 'BEGIN {
		while ((getline l < bcsv) > 0) { split(l, f, ","); if (f[3] == "1") b = (f[4] + f[5]) / 2 } }
		$2 ~ /nist/ && $4 + 0 == 1 {
			cpu = $8 + 0; fl = $9 + 0; r = $10 + 0; bs = $12 + 0; rb = $13 + 0
			if (cpu <= 0 || fl <= 0 || bs <= 0) exit 1
			if ((cpu / fl - r) ^ 2 > 0.0001 || (cpu / bs - rb) ^ 2 > 0.0001) exit 1
			if ((bs - b) ^ 2 > 0.000001) exit 1
			n++ } END { exit n != 1 }' "$tmp/sb/summary.md"
check "bench: the spread of the floors beside the runs is printed" \
	grep -qE '^Floor beside the runs, nist: [0-9.]+ to [0-9.]+ ms' "$tmp/sb/summary.md"
# results.json read back with SQLite's JSON functions (the sqlite3 CLI)
jq_sql() { sqlite3 :memory: "SELECT $1 FROM (SELECT readfile('$tmp/sb/results.json') AS j)"; }
check "bench: results.json holds the runs, new devices, in flight and floors beside" \
	test "$(jq_sql "json_valid(j), json_array_length(j, '\$.runs'),
		json_extract(j, '\$.runs[0].errors'), json_array_length(j, '\$.new_devices'),
		json_extract(j, '\$.new_devices[0].errors'), json_array_length(j, '\$.inflight'),
		json_array_length(j, '\$.floor_beside_ms'),
		json_extract(j, '\$.floor_beside_ms[0].new_devices') + 2 * json_extract(j, '\$.floor_beside_ms[1].new_devices'),
		json_extract(j, '\$.floor_beside_ms[0].before') > 0 AND json_extract(j, '\$.floor_beside_ms[1].after') > 0")" \
		= "1|1|0|1|0|1|2|2|1"
# the transaction list after the in-flight run: one traced transaction per
# initiateAuthentication (200, and one warm-up call on each of the 8
# connections), all written by the time the server stopped
check "bench: the lab's transaction list over the in-flight database lists its 208 transactions" \
	test "$(jq_sql "json_array_length(j, '\$.lab_list'), json_extract(j, '\$.lab_list[0].rows'),
		json_extract(j, '\$.lab_list[0].ms') >= 0")" = "1|208|1"
check "bench: the plot is written" bash -c "head -c 8 $tmp/sb/bench.png | grep -q PNG"
# scaling rows: server on 1, 2, 4 ... of this script's CPUs while one is left
# for the client; each row pinned as it says (taskset's view of the server),
# without errors; none on a 1-CPU machine, which summary.md then says
ncpu=$(taskset -pc $$ | sed 's/.*: //' | tr ',' '\n' |
	awk -F- 'NF == 2 { n += $2 - $1 + 1; next } { n++ } END { print n }')
want=0
for ((k = 1; k < ncpu; k *= 2)); do want=$((want + 1)); done
check "bench: $want scaling row(s) for $ncpu CPUs, pinned as claimed, no errors" \
	awk -v want=$want '{ n++
		if (match($0, /"server_cpus":"[^"]*"/) == 0) exit 1; a = substr($0, RSTART + 15, RLENGTH - 16)
		if (match($0, /"server_affinity":"[^"]*"/) == 0) exit 1; b = substr($0, RSTART + 19, RLENGTH - 20)
		if (a != b || $0 !~ /"errors":0,/) exit 1 } END { exit n != want }' "$tmp/sb/scaling.jsonl"
# the per-CPU busy shares behind "server CPUs busy" (smdp-bench's
# machine.cpu_busy): one per CPU number up to the highest online one (an
# offline CPU in between keeps its place, at 0), none above a whole CPU,
# together the machine's busy cores from /proc/stat's total line; /proc/stat counts in
# ticks, rounded per line, so both bounds allow 3 ticks per CPU over the window
tck=$(getconf CLK_TCK)
online=$(tr ',' '\n' </sys/devices/system/cpu/online | awk -F- '{ if ($NF + 1 > n) n = $NF + 1 } END { print n }')
if [ "$want" -gt 0 ]; then
	row=$(head -n 1 "$tmp/sb/scaling.jsonl")
	cb=$(sed -nE 's/.*"cpu_busy":\[([0-9.,]*)\].*/\1/p' <<<"$row")
	check "bench: cpu_busy has $online entries, each <= 1 CPU, adding up to busy_cores" \
		awk -F, -v n="$online" -v tck="$tck" \
		-v secs="$(sed -nE 's/.*"seconds":([0-9.]+).*/\1/p' <<<"$row")" \
		-v bc="$(sed -nE 's/.*"busy_cores":([0-9.]+).*/\1/p' <<<"$row")" '{
		slack = 3 / tck / secs; if (secs <= 0 || bc == "") exit 1
		for (i = 1; i <= NF; i++) { if ($i < 0 || $i > 1 + slack) exit 1; t += $i }
		exit !(NF == n && (t - bc) ^ 2 <= (n * slack) ^ 2) }' <<<"$cb"
	check "bench: server CPUs busy = the mean of its CPUs' cpu_busy" \
		awk -F, -v list="$(sed -nE 's/.*"server_cpus":"([^"]*)".*/\1/p' <<<"$row")" \
		-v got="$(sed -nE 's/.*"server_cpus_busy":([0-9.]+).*/\1/p' <<<"$row")" '{
		k = split(list, l, ","); for (i = 1; i <= k; i++) t += $(l[i] + 1)
		exit !(k > 0 && got != "" && (t / k - got) ^ 2 < 0.000001) }' <<<"$cb"
	check "bench: summary.md has the scaling table with the 1-core row" \
		grep -qE '^\| nist \| 1 \([0-9]+\) \| [0-9]+ \| 2 \|' "$tmp/sb/summary.md"
else
	check "bench: summary.md says no scaling runs were possible" \
		grep -q '^No scaling runs' "$tmp/sb/summary.md"
fi
check "bench: results.json holds the scaling rows" \
	test "$(jq_sql "json_array_length(j, '\$.scaling')")" = "$want"

check "no sanitizer report in the server log" \
	bash -c "! grep -E 'Sanitizer|runtime error' $tmp/server.log"
check "no sanitizer report from smdp-bench" \
	bash -c "! cat $tmp/*.err | grep -E 'Sanitizer|runtime error'"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
