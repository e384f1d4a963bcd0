#!/usr/bin/env bash
# smdp/fuzz/run.sh - run the libFuzzer targets built by smdp/fuzz/fuzz.mk.
#
#   run.sh long    each target FUZZ_SECONDS (default 60) on its seeds
#                  (test-vectors/fuzz-seeds/T) and its corpus, which grows
#                  across runs (build/fuzz/corpus/T); crash inputs go to
#                  build/fuzz/artifacts/T/. Prints executions and crashes per
#                  target and the totals. (make fuzz)
#   run.sh smoke   the short run of `make test`: replays every regression
#                  input (test-vectors/fuzz-regress/T/), then fuzzes each
#                  target FUZZ_SECONDS (default 5) from its seeds into a temp
#                  corpus; one ok / not ok line per check, then the summary
#                  line "N passed, M failed".
#
# Targets: FUZZ_TARGETS (comma or space separated) or else all of FUZZ_NAMES
# (fuzz.mk passes it) or else every executable in build/fuzz/. FUZZ_JOBS
# targets run at once (default: number of cores). A target with a
# dictionary smdp/fuzz/T.dict gets it.
set -u
cd "$(dirname "$0")/../.."
mode=${1:-long}
FB=build/fuzz
case $mode in
long) secs=${FUZZ_SECONDS:-60} ;;
smoke) secs=${FUZZ_SECONDS:-5} ;;
*) echo "usage: $0 long|smoke" >&2; exit 2 ;;
esac
jobs=${FUZZ_JOBS:-$(nproc 2>/dev/null || echo 1)}
targets=${FUZZ_TARGETS:-${FUZZ_NAMES:-}}
targets=${targets//,/ }
if [ -z "$targets" ]; then
	for f in "$FB"/*; do
		[ -f "$f" ] && [ -x "$f" ] && targets="$targets $(basename "$f")"
	done
fi
if [ -z "${targets// /}" ]; then
	echo "not ok - no fuzz targets built (make fuzz-build)"
	echo "0 passed, 1 failed"
	exit 1
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
logs=$FB/logs
mkdir -p "$logs"

# fuzz_one T: run target T for $secs seconds; writes $work/T.res with
# "rc runs crashes".
fuzz_one() {
	local t=$1 bin=$FB/$1 corpus art log dict=() extra=()
	log=$logs/$t.$mode.log
	if [ "$mode" = long ]; then
		corpus=$FB/corpus/$t
		art=$FB/artifacts/$t
	else
		corpus=$work/corpus-$t
		art=$work/artifacts-$t
	fi
	mkdir -p "$corpus" "$art"
	[ -f "smdp/fuzz/$t.dict" ] && dict=(-dict="smdp/fuzz/$t.dict")
	# the whole-path targets log like the server does: keep that out of the log
	case $t in es9p_json | es9p_asn1 | es2p_json) extra=(-close_fd_mask=2) ;; esac
	local seeds=test-vectors/fuzz-seeds/$t
	[ -d "$seeds" ] || seeds=
	"$bin" -max_total_time="$secs" -timeout=20 -rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix="$art/" "${dict[@]}" "${extra[@]}" "$corpus" $seeds \
		>"$log" 2>&1
	local rc=$?
	local runs crashes
	runs=$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' "$log" | tail -n 1)
	crashes=$(find "$art" -newer "$work/start" -type f \
		\( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) | wc -l)
	echo "$rc ${runs:-0} $crashes" >"$work/$t.res"
}

pass=0
fail=0
check() {   # check OK DESCRIPTION
	if [ "$1" -eq 0 ]; then pass=$((pass + 1)); echo "ok - $2"
	else fail=$((fail + 1)); echo "not ok - $2"; fi
}

# Regression inputs first (smoke): each file runs once, no mutation.
if [ "$mode" = smoke ]; then
	for t in $targets; do
		dir=test-vectors/fuzz-regress/$t
		[ -d "$dir" ] || continue
		files=("$dir"/*)
		[ -e "${files[0]}" ] || continue
		"$FB/$t" -runs=1 "${files[@]}" >"$logs/$t.regress.log" 2>&1
		check $? "fuzz $t: ${#files[@]} regression input(s) replayed without a crash"
	done
fi

touch "$work/start"
running=0
for t in $targets; do
	if [ ! -x "$FB/$t" ]; then
		echo "1 0 0" >"$work/$t.res"
		echo "missing $FB/$t" >"$logs/$t.$mode.log"
		continue
	fi
	fuzz_one "$t" &
	running=$((running + 1))
	if [ "$running" -ge "$jobs" ]; then
		wait -n
		running=$((running - 1))
	fi
done
wait

total_runs=0
total_crashes=0
[ "$mode" = long ] && printf '%-28s %14s %10s %8s  %s\n' target executions exec/s crashes log
for t in $targets; do
	read -r rc runs crashes <"$work/$t.res"
	total_runs=$((total_runs + runs))
	total_crashes=$((total_crashes + crashes))
	log=$logs/$t.$mode.log
	if [ "$mode" = long ]; then
		printf '%-28s %14d %10d %8d  %s\n' "$t" "$runs" $((runs / secs)) "$crashes" "$log"
		if [ "$rc" -ne 0 ] || [ "$crashes" -ne 0 ]; then
			grep -E 'ERROR|SUMMARY|contract broken|Test unit written' "$log" | head -n 5 |
				sed 's/^/    /'
		fi
	else
		check $(( rc != 0 || crashes != 0 )) \
			"fuzz $t: $runs runs in ${secs}s, no crash (exit $rc, log $log)"
		if [ "$rc" -ne 0 ]; then
			grep -E 'ERROR|SUMMARY|contract broken|Test unit written' "$log" | head -n 5 |
				sed 's/^/    /'
		fi
	fi
done
if [ "$mode" = long ]; then
	echo "total: $total_runs executions, $total_crashes crashes, ${secs}s per target"
	echo "crash inputs: $FB/artifacts/<target>/; add each to test-vectors/fuzz-regress/<target>/"
	[ "$total_crashes" -eq 0 ]
else
	echo "total: $total_runs executions"
	echo "$pass passed, $fail failed"
	[ "$fail" -eq 0 ]
fi
