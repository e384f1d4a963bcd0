#!/usr/bin/env bash
# e2e_replay.sh - replay attacks on ES9+ (issue #9), on both bindings: a
# transactionId used again after its session finished, was cancelled or is in
# another state, a made-up one, and signed structures of one session
# (AuthenticateServerResponse, PrepareDownloadResponse, CancelSessionResponse,
# ProfileInstallationResult) sent in another. Each replay gets the SGP.22
# code of the spec digest (1.3: unknown transactionId 8.10.1/3.9; ASN.1
# binding invalidTransactionId 10 / 95 / 1), and the session it was not meant
# for either goes on to a byte-identical profile or, where SGP.22 5.6 ends a
# session on error, is closed; the session states are read from the SQLite
# file. smdp-client --save / --pause / --replay-* / send drive it.
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
CLIENT=$BUILD/smdp-client
tmp=$(mktemp -d)
PORT=${E2E_REPLAY_PORT:-18820}
FQDN=testsmdpplus1.example.com
P=TS48v2_SAIP2.3_NoBERTLV
AC="LPA:1\$$FQDN\$$P"
DB=$tmp/r.db
pass=0
fail=0
bg=()

"$BUILD/smdp" --db "$DB" --listen.nist 127.0.0.1:$PORT --listen.brainpool off >"$tmp/log" 2>&1 &
pid=$!
cleanup() {
	for p in "${bg[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	kill $pid 2>/dev/null; wait $pid 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
for _ in $(seq 1 100); do grep -q "listening on" "$tmp/log" && break; sleep 0.1; done

check() {
	local d=$1; shift
	if "$@"; then pass=$((pass + 1)); echo "ok - $d"
	else fail=$((fail + 1)); echo "not ok - $d"; fi
}

result_is() {   # result_is FILE PATTERN
	grep -qE "$2" "$1" && return 0
	echo "    expected /$2/, got: $(grep '^result' "$1")"
	tail -n 4 "$1.err" | sed 's/^/    /'
	return 1
}

# run OUT ARGS... : smdp-client in the foreground, result line in OUT
run() { local o=$1; shift; "$CLIENT" "$@" >"$o" 2>"$o.err"; }
# start OUT ARGS... : smdp-client in the background (a session held by --pause)
start() { local o=$1; shift; "$CLIENT" "$@" >"$o" 2>"$o.err" & bg+=($!); }
# finish: wait for the last background client
finish() { wait "${bg[-1]}" 2>/dev/null; unset 'bg[-1]'; }
# wait_file FILE: until a paused client has saved FILE (10 s at most)
wait_file() {
	for _ in $(seq 1 500); do [ -s "$1" ] && return 0; sleep 0.02; done
	echo "    $1 never appeared"; return 1
}
# state DIR: "state|close_reason" of the session whose txid.hex DIR holds
state() { sqlite3 "$DB" "select state||'|'||close_reason from sessions where txid=x'$(cat "$1/txid.hex")'"; }
state_is() {   # state_is DIR WANT
	local s; s=$(state "$1")
	[ "$s" = "$2" ] || { echo "    session state|close_reason is '$s', expected '$2'"; return 1; }
}
# events DIR EVENT: how many history rows of that event the session has
events() {
	sqlite3 "$DB" "select count(*) from history where txid=x'$(cat "$1/txid.hex")' and event='$2'"
}
# same_but_signature A B: two BPPs (BF36) equal but for the value of the
# first 5F37 40 (smdpSign in BF23: ECDSA, a new random k each time)
same_but_signature() {
	local a b
	a=$(od -An -v -tx1 "$1" | tr -d '\n' | sed -E 's/ 5f 37 40( [0-9a-f]{2}){64}/ SIG/')
	b=$(od -An -v -tx1 "$2" | tr -d '\n' | sed -E 's/ 5f 37 40( [0-9a-f]{2}){64}/ SIG/')
	[ "${#a}" -gt 1000 ] && [[ "$a" == *" SIG"* ]] && [ "$a" = "$b" ] ||
		{ echo "    the BPPs differ beyond smdpSign"; return 1; }
}
count_is() { [ "$1" = "$2" ] || { echo "    count $1, expected $2"; return 1; }; }

# session states (smdp.h): 1 AUTH_STARTED, 2 CLIENT_AUTHED, 3 BPP_SENT,
# 4 CLOSED; close reasons: 1 installed, 3 cancelled, 4 error
for B in json asn1; do
	C=(--pki certs/sgp26-nist --connect 127.0.0.1:$PORT --binding "$B" --ac "$AC")
	D=$tmp/$B
	mkdir -p "$D"/{A,B,C,D,E,F,G,H}
	if [ "$B" = json ]; then
		AC_UNK='^result: failed authenticateClient 8\.10\.1/3\.9 '
		BPP_UNK='^result: failed getBoundProfilePackage 8\.10\.1/3\.9 '
		CS_UNK='^result: failed cancelSession 8\.10\.1/3\.9 '
	else
		AC_UNK='^result: failed authenticateClient asn1/10 invalidTransactionId'
		BPP_UNK='^result: failed getBoundProfilePackage asn1/95 invalidTransactionId'
		CS_UNK='^result: failed cancelSession asn1/1 invalidTransactionId'
	fi
	send() {   # send OUT FUNCTION [--txid HEX] --object FILE
		local o=$1 f=$2; shift 2
		run "$o" send "${C[@]}" --function "$f" "$@"
	}

	# --- session F cancelled: any call after it (its objects serve below) ---
	run "$D/f.out" download "${C[@]}" --save "$D/F" --cancel 1@bpp
	check "$B: session F cancelled after getBoundProfilePackage" result_is "$D/f.out" \
		'^result: ok .*cancelled=1'
	check "$B: session F closed as cancelled" state_is "$D/F" '4|3'
	send "$D/o" cancelSession --txid "$(cat "$D/F/txid.hex")" --object "$D/F/csr.der"
	check "$B: F's cancelSession replayed -> unknown transaction" result_is "$D/o" "$CS_UNK"
	send "$D/o" getBoundProfilePackage --txid "$(cat "$D/F/txid.hex")" --object "$D/F/pdr.der"
	check "$B: F's getBoundProfilePackage after the cancel -> unknown transaction" \
		result_is "$D/o" "$BPP_UNK"
	send "$D/o" authenticateClient --txid "$(cat "$D/F/txid.hex")" --object "$D/F/asr.der"
	check "$B: F's authenticateClient after the cancel -> unknown transaction" \
		result_is "$D/o" "$AC_UNK"

	# --- session A, held before getBoundProfilePackage ---
	start "$D/a.out" download "${C[@]}" --save "$D/A" --pause "bpp:$D/A.go" \
		--expect "profiles/$P.der"
	check "$B: session A authenticated and held" wait_file "$D/A/pdr.der"
	check "$B: session A is CLIENT_AUTHED" state_is "$D/A" '2|0'
	send "$D/o" authenticateClient --txid "$(cat "$D/A/txid.hex")" --object "$D/A/asr.der"
	check "$B: A's authenticateClient replayed after it succeeded -> unknown transaction" \
		result_is "$D/o" "$AC_UNK"
	send "$D/o" authenticateClient --txid 00112233445566778899AABBCCDDEEFF \
		--object "$D/A/asr.der"
	check "$B: A's AuthenticateServerResponse with a made-up transactionId -> unknown" \
		result_is "$D/o" "$AC_UNK"
	run "$D/o" download "${C[@]}" --save "$D/B" --replay-asr "$D/A/asr.der"
	check "$B: A's AuthenticateServerResponse in session B -> unknown transaction" \
		result_is "$D/o" "$AC_UNK"
	check "$B: session B closed on that error (SGP.22 5.6.3)" state_is "$D/B" '4|4'
	check "$B: the server logged why it closed B" grep -qF \
		"session $(cat "$D/B/txid.hex"): authenticateClient failed 8.10.1/3.9" "$tmp/log"
	send "$D/o" getBoundProfilePackage --txid "$(cat "$D/B/txid.hex")" --object "$D/A/pdr.der"
	check "$B: a call in the closed session B -> unknown transaction" \
		result_is "$D/o" "$BPP_UNK"

	# --- session C, held before authenticateClient: a call of the wrong state ---
	start "$D/c.out" download "${C[@]}" --save "$D/C" --pause "auth:$D/C.go" \
		--expect "profiles/$P.der"
	check "$B: session C initiated and held" wait_file "$D/C/asr.der"
	send "$D/o" getBoundProfilePackage --txid "$(cat "$D/C/txid.hex")" --object "$D/A/pdr.der"
	check "$B: getBoundProfilePackage in C before authenticateClient -> unknown transaction" \
		result_is "$D/o" "$BPP_UNK"
	send "$D/o" cancelSession --txid "$(cat "$D/C/txid.hex")" --object "$D/F/csr.der"
	check "$B: cancelSession in C before authenticateClient -> unknown transaction" \
		result_is "$D/o" "$CS_UNK"
	check "$B: session C still AUTH_STARTED" state_is "$D/C" '1|0'
	touch "$D/C.go"; finish
	check "$B: session C completes with the same profile" result_is "$D/c.out" \
		'^result: ok 4 .*match=yes'

	check "$B: session A still CLIENT_AUTHED after the replays" state_is "$D/A" '2|0'
	touch "$D/A.go"; finish
	check "$B: session A completes with the same profile" result_is "$D/a.out" \
		'^result: ok 4 .*match=yes'
	check "$B: session A closed as installed" state_is "$D/A" '4|1'
	send "$D/o" getBoundProfilePackage --txid "$(cat "$D/A/txid.hex")" --object "$D/A/pdr.der"
	check "$B: A's getBoundProfilePackage replayed after the download -> unknown transaction" \
		result_is "$D/o" "$BPP_UNK"

	# --- A's PrepareDownloadResponse in session D ---
	run "$D/o" download "${C[@]}" --save "$D/D" --replay-pdr "$D/A/pdr.der"
	check "$B: A's PrepareDownloadResponse in session D -> unknown transaction" \
		result_is "$D/o" "$BPP_UNK"
	check "$B: session D closed on that error (SGP.22 5.6.2)" state_is "$D/D" '4|4'
	check "$B: the server logged why it closed D" grep -qF \
		"session $(cat "$D/D/txid.hex"): getBoundProfilePackage failed 8.10.1/3.9" "$tmp/log"

	# --- A's ProfileInstallationResult while session E waits to send its own ---
	start "$D/e.out" download "${C[@]}" --save "$D/E" --pause "pir:$D/E.go" \
		--expect "profiles/$P.der"
	check "$B: session E loaded its BPP and is held" wait_file "$D/E/pir.der"
	check "$B: session E is BPP_SENT" state_is "$D/E" '3|0'
	# SGP.22 does not say what a repeated getBoundProfilePackage gets
	# (digest 2: "on a repeat, resend the same BPP: UNSURE"); smdp resends:
	# the same bytes, bound to the same otPK.EUICC, useless to anyone else
	mkdir -p "$D/E2"
	send "$D/o" getBoundProfilePackage --txid "$(cat "$D/E/txid.hex")" --object "$D/E/pdr.der" \
		--save "$D/E2"
	check "$B: E's getBoundProfilePackage repeated in BPP_SENT is answered" \
		result_is "$D/o" '^result: ok 1'
	check "$B: ... with the BPP E received: same otPK.DP and segments, only smdpSign new" \
		same_but_signature "$D/E/bpp.der" "$D/E2/bpp.der"
	send "$D/o" handleNotification --object "$D/A/pir.der"
	check "$B: A's PIR sent again gets 204 like any notification" result_is "$D/o" '^result: ok 1'
	check "$B: A's PIR replayed did not close session E" state_is "$D/E" '3|0'
	check "$B: no installation recorded for E" count_is "$(events "$D/E" installed)" 0
	check "$B: A's installation recorded once" count_is "$(events "$D/A" installed)" 1
	check "$B: no notification row for E" count_is "$(sqlite3 "$DB" \
		"select count(*) from notifications where txid=x'$(cat "$D/E/txid.hex")'")" 0
	touch "$D/E.go"; finish
	check "$B: session E completes with the same profile" result_is "$D/e.out" \
		'^result: ok 4 .*match=yes'
	check "$B: session E closed as installed" state_is "$D/E" '4|1'
	send "$D/o" handleNotification --object "$D/E/pir.der"
	check "$B: E's PIR replayed: still one installation for E" \
		count_is "$(events "$D/E" installed)" 1
	check "$B: E's PIR replayed: the log says it changed nothing" grep -q \
		"session $(cat "$D/E/txid.hex"): PIR received again .*nothing changes" "$tmp/log"

	# --- session G: F's CancelSessionResponse in it ---
	start "$D/g.out" download "${C[@]}" --save "$D/G" --pause "bpp:$D/G.go" \
		--expect "profiles/$P.der"
	check "$B: session G authenticated and held" wait_file "$D/G/pdr.der"
	send "$D/o" cancelSession --txid "$(cat "$D/G/txid.hex")" --object "$D/F/csr.der"
	check "$B: F's CancelSessionResponse in session G -> unknown transaction" \
		result_is "$D/o" "$CS_UNK"
	check "$B: session G not cancelled" state_is "$D/G" '2|0'
	touch "$D/G.go"; finish
	check "$B: session G completes with the same profile" result_is "$D/g.out" \
		'^result: ok 4 .*match=yes'
	run "$D/o" download "${C[@]}" --save "$D/H" --cancel 0@auth --replay-csr "$D/F/csr.der"
	check "$B: F's CancelSessionResponse as H's own cancel -> unknown transaction" \
		result_is "$D/o" "$CS_UNK"
	check "$B: session H not cancelled by it" state_is "$D/H" '2|0'
	check "$B: no cancel recorded for G or H" count_is \
		"$(( $(events "$D/G" cancelled) + $(events "$D/H" cancelled) ))" 0
done

check "server still running" kill -0 $pid
check "database integrity_check ok" test "$(sqlite3 "$DB" 'pragma integrity_check')" = ok
kill $pid; wait $pid 2>/dev/null
check "no sanitizer report in the server log" bash -c "! grep -E 'Sanitizer|runtime error' $tmp/log"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
