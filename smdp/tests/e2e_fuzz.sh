#!/usr/bin/env bash
# e2e_fuzz.sh - the short fuzzing run of `make test` (issue 9): builds the
# libFuzzer targets (smdp/fuzz/fuzz.mk, clang), replays every regression
# input under test-vectors/fuzz-regress/, then fuzzes each target for
# FUZZ_SECONDS (default 5) from its seeds. One ok / not ok per check (no
# crash, no sanitizer report, no broken decoder contract), then
# "N passed, M failed". No network, no ports.
set -u
cd "$(dirname "$0")/../.."
if [ -z "${FUZZ_NAMES:-}" ]; then
	# run by scripts/run-tests: build (quietly, incremental) and list targets
	if ! out=$(${MAKE:-make} -s -j"$(nproc 2>/dev/null || echo 1)" fuzz-build 2>&1); then
		echo "$out" | tail -n 20
		echo "not ok - fuzz targets build (make fuzz-build)"
		echo "0 passed, 1 failed"
		exit 1
	fi
	FUZZ_NAMES=$(${MAKE:-make} -s fuzz-list)
	export FUZZ_NAMES
fi
FUZZ_SECONDS=${FUZZ_SECONDS:-5} exec smdp/fuzz/run.sh smoke
