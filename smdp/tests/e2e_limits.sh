#!/usr/bin/env bash
# e2e_limits.sh - hostile and broken clients, and secrets (issue 9): the
# per-address request rate (429 + Retry-After, one log line per address and
# interval), the per-address connection limit, a slowloris client cut off
# after limit.request-timeout-ms, and private key files that others may read
# refused at start-up unless --allow-loose-key-permissions yes. Ports
# 18660-18679.
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
SMDP=$BUILD/smdp
BASE=${E2E_LIMITS_PORT:-18660}
FQDN=testsmdpplus1.example.com
tmp=$(mktemp -d)
pass=0
fail=0
pids=()

cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	rm -rf "$tmp"
}
trap cleanup EXIT

check() {
	local d=$1; shift
	if "$@"; then pass=$((pass + 1)); echo "ok - $d"
	else fail=$((fail + 1)); echo "not ok - $d"; fi
}

# start NAME PORT [options...]: build/smdp on 127.0.0.1:PORT (NIST only)
start() {
	local name=$1 port=$2; shift 2
	"$SMDP" --db "$tmp/$name.db" --listen.nist 127.0.0.1:$port --listen.brainpool off \
		"$@" >"$tmp/$name.log" 2>&1 &
	pid=$!
	pids+=("$pid")
	for _ in $(seq 1 100); do
		grep -q "listening on" "$tmp/$name.log" && return 0
		kill -0 $pid 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}
stop() { kill "$1" 2>/dev/null; wait "$1" 2>/dev/null; }

# get PORT: status of one request (unknown path: 404 when let through)
get() {
	curl -s -o /dev/null -w '%{http_code}' --resolve "$FQDN:$1:127.0.0.1" \
		--cacert certs/sgp26-nist/ci.pem "https://$FQDN:$1/x"
}

# --- request rate: 5/s, burst 10 -------------------------------------------
P=$BASE
check "server starts with limit.requests-per-second 5, limit.burst 10" \
	start rate $P --limit.requests-per-second 5 --limit.burst 10
rate_pid=$pid
urls=()
for _ in $(seq 1 40); do urls+=("https://$FQDN:$P/x"); done
# one curl, 40 requests as fast as the connection(s) go: the first 10 are
# the burst, then about 5 per second
t0=$(date +%s.%N)
curl -s -o /dev/null -w '%{http_code}\n' --resolve "$FQDN:$P:127.0.0.1" \
	--cacert certs/sgp26-nist/ci.pem "${urls[@]}" >"$tmp/codes"
t1=$(date +%s.%N)
n404=$(grep -c '^404$' "$tmp/codes")
n429=$(grep -c '^429$' "$tmp/codes")
allowed=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%d", 10 + (b - a) * 5 + 1 }')
echo "    40 requests in $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.2f", b-a}') s: $n404 let through, $n429 refused (bucket allows <= $allowed)"
check "the burst of 10 goes through" test "$n404" -ge 10
check "above burst + rate they get 429" test "$n429" -ge 1 -a "$n404" -le "$allowed"
check "every answer is 404 or 429" test $((n404 + n429)) -eq 40
# the refusal itself, from 5 more requests in one curl: the bucket gains a
# token every 0.2 s, so on a loaded machine the first of them may be let
# through again; the first 429 among them is the one examined
probe=()
for i in 1 2 3 4 5; do probe+=(-o "$tmp/body$i" "https://$FQDN:$P/x"); done
curl -s -D "$tmp/hdr" -w '%{http_code}\n' --resolve "$FQDN:$P:127.0.0.1" \
	--cacert certs/sgp26-nist/ci.pem "${probe[@]}" >"$tmp/pcodes"
k=$(grep -n '^429$' "$tmp/pcodes" | head -n1 | cut -d: -f1)
# response k's headers: the k-th block of the -D file (each starts with HTTP/)
awk -v k="${k:-0}" '/^HTTP\// { n++ } n == k' "$tmp/hdr" >"$tmp/hdr429"
check "a refused request gets 429 with Retry-After and Connection: close" \
	bash -c "grep -q '^HTTP/1.1 429' '$tmp/hdr429' && grep -qi '^Retry-After: 1' '$tmp/hdr429' &&
		 grep -qi '^Connection: close' '$tmp/hdr429'"
check "its body names the limit" grep -q "too many requests per second from your address (limit 5)" \
	"$tmp/body${k:-0}"
check "logged once for the address in the interval" \
	test "$(grep -c '127.0.0.1 is over its limit of 5 requests per second' "$tmp/rate.log")" = 1
sleep 2.2
check "after 2 s of quiet the address is served again" test "$(get $P)" = 404
check "a second address is not affected (::1 is off, 127.0.0.2 counts apart)" \
	test "$(curl -s -o /dev/null -w '%{http_code}' --resolve "$FQDN:$P:127.0.0.1" \
		--interface 127.0.0.2 --cacert certs/sgp26-nist/ci.pem "https://$FQDN:$P/x")" = 404
stop $rate_pid
check "no sanitizer report (rate)" bash -c "! grep -E 'Sanitizer|runtime error' $tmp/rate.log"

# --- connections: 2 per address ----------------------------------------------
P=$((BASE + 1))
check "server starts with limit.connections-per-address 2" \
	start conn $P --limit.connections-per-address 2 --threads 8
conn_pid=$pid
# two keep-alive connections held open by openssl s_client: one request
# each (a connection counts from its first request), then 4 s idle
holders=()
for i in 1 2; do
	{ printf 'GET /x HTTP/1.1\r\nHost: %s\r\n\r\n' $FQDN; sleep 4; } |
		openssl s_client -brief -connect 127.0.0.1:$P -servername $FQDN \
		>"$tmp/hold$i.out" 2>&1 &
	holders+=($!)
done
sleep 1.5
check "the two held connections were served" \
	bash -c "grep -q '^HTTP/1.1 404' '$tmp/hold1.out' && grep -q '^HTTP/1.1 404' '$tmp/hold2.out'"
code=$(get $P)
check "a third connection from the address gets 429 (got $code)" test "$code" = 429
check "its body names the connection limit" \
	bash -c "curl -s --resolve '$FQDN:$P:127.0.0.1' --cacert certs/sgp26-nist/ci.pem \
		https://$FQDN:$P/x | grep -q 'too many connections from your address (limit 2)'"
check "another address still gets through" \
	test "$(curl -s -o /dev/null -w '%{http_code}' --resolve "$FQDN:$P:127.0.0.1" \
		--interface 127.0.0.2 --cacert certs/sgp26-nist/ci.pem "https://$FQDN:$P/x")" = 404
# the holders end when their input does (openssl s_client sees EOF)
wait "${holders[@]}" 2>/dev/null
sleep 0.5
check "closed connections are counted down: served again" test "$(get $P)" = 404
check "the connection limit was logged once" \
	test "$(grep -c '127.0.0.1 is over its limit of 2 connections' "$tmp/conn.log")" = 1
stop $conn_pid

# --- slowloris: request head one byte every 0.4 s, timeout 1500 ms -------------
P=$((BASE + 2))
check "server starts with limit.request-timeout-ms 1500" \
	start slow $P --limit.request-timeout-ms 1500
slow_pid=$pid
req="GET /x HTTP/1.1\r\nHost: $FQDN\r\nUser-Agent: slowloris-test-with-a-long-header-line\r\n\r\n"
t0=$(date +%s.%N)
( printf '%b' "$req" | while IFS= read -r -n1 -d '' c; do
	printf '%s' "$c"; sleep 0.4; done ) 2>/dev/null |
	timeout 30 openssl s_client -quiet -connect 127.0.0.1:$P -servername $FQDN \
		>"$tmp/slow.out" 2>&1
t1=$(date +%s.%N)
el=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
echo "    slow client cut off after $el s (sending the head would take ~36 s)"
check "the slow client is cut off within timeout + 3 s" awk -v e="$el" 'BEGIN { exit !(e >= 1.0 && e < 4.5) }'
check "it got no 2xx/4xx answer to its unfinished request" bash -c "! grep -q '^HTTP/1.1 404' '$tmp/slow.out'"
check "a normal client is still served" test "$(get $P)" = 404
stop $slow_pid
check "no sanitizer report (conn, slow)" bash -c "! grep -E 'Sanitizer|runtime error' $tmp/conn.log $tmp/slow.log"

# --- private keys readable by others -----------------------------------------
P=$((BASE + 3))
cp -r certs/sgp26-nist "$tmp/certs-nist"
mkdir "$tmp/loose"
mv "$tmp/certs-nist" "$tmp/loose/sgp26-nist"
chmod 600 "$tmp"/loose/sgp26-nist/*.key.pem
check "a private copy of the certificates starts" start private $P --certs "$tmp/loose" \
	--listen.nist.key "$tmp/loose/sgp26-nist/dptls.key.pem"
stop $pid
for k in dpauth dppb dptls; do
	chmod 644 "$tmp/loose/sgp26-nist/$k.key.pem"
	"$SMDP" --db "$tmp/k.db" --certs "$tmp/loose" --listen.nist 127.0.0.1:$P \
		--listen.brainpool off --listen.es2 off \
		--listen.nist.key "$tmp/loose/sgp26-nist/dptls.key.pem" >"$tmp/$k.log" 2>&1 &
	kp=$!
	pids+=("$kp")
	for _ in $(seq 1 50); do kill -0 $kp 2>/dev/null || break; sleep 0.1; done
	wait $kp 2>/dev/null; rc=$?
	check "$k.key.pem mode 0644: smdp refuses to start (exit $rc)" test "$rc" -ne 0
	check "the message names the file, its mode and chmod 600" \
		grep -q "private key $tmp/loose/sgp26-nist/$k.key.pem is readable by group or others (mode 0644): run 'chmod 600 $tmp/loose/sgp26-nist/$k.key.pem'" "$tmp/$k.log"
	check "it does not listen" bash -c "! grep -q 'listening on' '$tmp/$k.log'"
	chmod 600 "$tmp/loose/sgp26-nist/$k.key.pem"
done
chmod 640 "$tmp/loose/sgp26-nist/dpauth.key.pem"
"$SMDP" --db "$tmp/g.db" --certs "$tmp/loose" --listen.nist 127.0.0.1:$P --listen.brainpool off \
	--listen.nist.key "$tmp/loose/sgp26-nist/dptls.key.pem" >"$tmp/g.log" 2>&1
check "group-readable (0640) is refused too" grep -q "dpauth.key.pem is readable by group or others (mode 0640)" "$tmp/g.log"
chmod 644 "$tmp"/loose/sgp26-nist/*.key.pem
check "with --allow-loose-key-permissions yes it starts" start loose $P --certs "$tmp/loose" \
	--listen.nist.key "$tmp/loose/sgp26-nist/dptls.key.pem" --allow-loose-key-permissions yes
check "and warns about the key" grep -q "warn.*private key $tmp/loose/sgp26-nist/dpauth.key.pem is readable by group or others (mode 0644); accepted" "$tmp/loose.log"
check "and serves" test "$(get $P)" = 404
stop $pid
check "no sanitizer report (keys)" bash -c "! grep -E 'Sanitizer|runtime error' $tmp/*.log"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
