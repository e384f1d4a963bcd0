#!/usr/bin/env bash
# e2e_crash.sh - crash safety (issue 9): build/smdp (mode orders) is killed
# with SIGKILL at random moments while a test operator (curl, mutual TLS)
# orders and confirms downloads over ES2+ and build/smdp-client downloads
# over ES9+; it is restarted on the same database each time. After every
# restart the sqlite3 CLI checks the database (integrity_check, one active
# order per profile, profiles and orders agreeing, every order and
# matchingId the operator was told about still there, every download the
# client saw acknowledged still Installed); at the end every order is
# driven to its end (completes or fails with a clean SGP.22 code) and every
# queued operator notification must have reached the operator endpoint
# (build/test-tools/es2_peer), including those queued while it was down.
#
# Only the kill timing is random; what is asserted does not depend on it.
#   CRASH_ROUNDS=N  number of kills (default 6, about 20 s)
#   CRASH_SEED=S    seed of the kill timing (printed; default: from the time)
#   CRASH_WINDOW=MS kills are drawn from 0..MS ms after a round's traffic
#                   starts (default: measured on a round without a kill)
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
SMDP=$BUILD/smdp
ADMIN=$BUILD/smdp-admin
CLIENT=$BUILD/smdp-client
PEER=$BUILD/test-tools/es2_peer
BASE=${E2E_CRASH_PORT:-18620}
P_ES9=$BASE
P_ES2=$((BASE + 1))
P_PEER=$((BASE + 2))
ROUNDS=${CRASH_ROUNDS:-6}
SEED=${CRASH_SEED:-$(( $(date +%s) % 100000 ))}
RANDOM=$SEED
FQDN=testsmdpplus1.example.com
EID1=89049032123451234512345678901235     # the SGP.26 test eUICC of smdp-client
tmp=$(mktemp -d)
pki=$tmp/pki
pass=0
fail=0
smdp_pid=
peer_pid=
echo "# e2e_crash: seed $SEED, $ROUNDS rounds"

cleanup() {
	[ -n "$smdp_pid" ] && kill "$smdp_pid" 2>/dev/null && wait "$smdp_pid" 2>/dev/null
	[ -n "$peer_pid" ] && kill "$peer_pid" 2>/dev/null && wait "$peer_pid" 2>/dev/null
	[ -n "${CRASH_KEEP:-}" ] && echo "# kept $tmp" || rm -rf "$tmp"
}
trap cleanup EXIT

check() {   # check DESCRIPTION COMMAND...
	local d=$1; shift
	if "$@"; then pass=$((pass + 1)); echo "ok - $d"
	else fail=$((fail + 1)); echo "not ok - $d"; fi
}

# ---------------------------------------------------------------- PKI
mkdir -p "$pki"
mkca() {   # mkca NAME CN
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
		-subj "/CN=$2" -keyout "$pki/$1.key" -out "$pki/$1.pem" \
		-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign \
		2>/dev/null
}
mkcert() {   # mkcert NAME CN CA EXT
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$2" \
		-keyout "$pki/$1.key" -out "$pki/$1.csr" 2>/dev/null &&
	printf '%s\n' "$4" >"$pki/$1.ext" &&
	openssl x509 -req -in "$pki/$1.csr" -CA "$pki/$3.pem" -CAkey "$pki/$3.key" \
		-CAcreateserial -days 30 -extfile "$pki/$1.ext" -out "$pki/$1.pem" 2>/dev/null
}
mkca opca "Test Operator CA" &&
mkcert opa "operator-a" opca "extendedKeyUsage=clientAuth" &&
mkcert smdpcli "smdp" opca "extendedKeyUsage=clientAuth" &&
mkcert peer "operator-a endpoint" opca \
	"extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1"
check "test PKI made with the openssl CLI" test -s "$pki/peer.pem" -a -s "$pki/opa.pem"

# ---------------------------------------------------------------- profiles
# Copies of a TS.48 profile with distinct ICCIDs (ProfileHeader tag 83 and
# the nibble-swapped EF.ICCID rewritten with perl, as in e2e_es2.sh).
SRC=profiles/TS48v2_SAIP2.3_NoBERTLV.der
mkdir -p "$tmp/profiles"
mkprofile() {   # mkprofile NAME ICCID20
	local swapped
	swapped=$(echo "$2" | sed -E 's/(.)(.)/\2\1/g')
	perl -e '
		my ($src, $dst, $new, $newsw) = @ARGV;
		open(my $f, "<:raw", $src) or die; local $/; my $d = <$f>; close $f;
		my $old = pack("H*", "89000123456789012341");
		my $oldsw = pack("H*", "98001032547698103214");
		my $n = () = $d =~ /\Q$old\E/g; my $m = () = $d =~ /\Q$oldsw\E/g;
		die "ICCID found $n/$m times\n" unless $n == 1 && $m == 1;
		my $a = pack("H*", $new); my $b = pack("H*", $newsw);
		$d =~ s/\Q$old\E/$a/; $d =~ s/\Q$oldsw\E/$b/;
		open(my $o, ">:raw", $dst) or die; print $o $d; close $o;
	' "$SRC" "$tmp/profiles/$1.der" "$2" "$swapped"
}
iccid_of() { printf '899900000000001%05d' "$1"; }   # 20 digits
# two orders per round, one for the deterministic queue check, spares
NPROF=$((ROUNDS * 2 + 8))
for n in $(seq 1 $NPROF); do mkprofile "c$n" "$(iccid_of "$n")"; done
check "$NPROF profile copies with distinct ICCIDs" \
	test "$(ls "$tmp/profiles" | wc -l)" -eq "$NPROF"

CONF=$tmp/smdp.conf
# many download attempts: a killed attempt counts as one (SGP.22 has no
# rule for crashes; the point here is that the retry is possible)
cat >"$CONF" <<EOF
mode = orders
db = $tmp/smdp.db
profiles = $tmp/profiles
listen.nist = 127.0.0.1:$P_ES9
listen.brainpool = off
listen.es2 = 127.0.0.1:$P_ES2
listen.es2.client-ca = $pki/opca.pem
admin.listen = off
max-download-attempts = 50
notify-retry-min = 1
notify-retry-max = 1
operator.a.id = OPERATOR-A
operator.a.client-cert = $pki/opa.pem
operator.a.profile-types = crash
operator.a.notify-url = https://127.0.0.1:$P_PEER
operator.a.notify-ca = $pki/opca.pem
operator.a.notify-cert = $pki/smdpcli.pem
operator.a.notify-key = $pki/smdpcli.key
EOF
admin() { "$ADMIN" --config "$CONF" "$@"; }
DB=$tmp/smdp.db   # the database the invariants read
sql() { sqlite3 -cmd ".timeout 5000" "$DB" "$1"; }
state_of() { sql "select state from profiles where iccid='$1'"; }
# profile states as stored (SGP.22 names, smdp.h enum profile_state)
S_AVAILABLE=1 S_RELEASED=5 S_DOWNLOADED=6 S_INSTALLED=7 S_ERROR=8

ok_import=0
for n in $(seq 1 $NPROF); do
	admin import "$tmp/profiles/c$n.der" --type crash >/dev/null 2>&1 && ok_import=$((ok_import + 1))
done
check "smdp-admin imported $NPROF profiles, sqlite3 CLI sees them Available" \
	test "$ok_import" -eq "$NPROF" -a \
	"$(sql "select count(*) from profiles where state=$S_AVAILABLE")" = "$NPROF"

# ---------------------------------------------------------------- servers
start_peer() {
	"$PEER" --listen 127.0.0.1:$P_PEER --cert "$pki/peer.pem" --key "$pki/peer.key" \
		--client-ca "$pki/opca.pem" --out "$tmp/notifs" >>"$tmp/peer.log" 2>&1 &
	peer_pid=$!
	for _ in $(seq 1 100); do
		[ "$(grep -c listening "$tmp/peer.log")" -ge "$npeer" ] && return 0
		sleep 0.05
	done
	echo "peer did not start"; cat "$tmp/peer.log"; return 1
}
npeer=0
start_peer_n() { npeer=$((npeer + 1)); start_peer; }
stop_peer() { kill "$peer_pid"; wait "$peer_pid" 2>/dev/null; peer_pid=; }
nlog=0
start_smdp() {
	nlog=$((nlog + 1))
	"$SMDP" --config "$CONF" >"$tmp/smdp$nlog.log" 2>&1 &
	smdp_pid=$!
	for _ in $(seq 1 150); do
		grep -q "listening on .*(es2)" "$tmp/smdp$nlog.log" 2>/dev/null && return 0
		kill -0 "$smdp_pid" 2>/dev/null || break
		sleep 0.1
	done
	echo "smdp did not start:"; cat "$tmp/smdp$nlog.log"; return 1
}
crash_smdp() { kill -9 "$smdp_pid"; wait "$smdp_pid" 2>/dev/null; smdp_pid=; }

# ---------------------------------------------------------------- clients
# es2 OUT FUNCTION JSON-FIELDS -> body in OUT
ncall=0
es2() {
	local out=$1 fn=$2 fields=$3 body
	ncall=$((ncall + 1))
	body="{\"header\":{\"functionRequesterIdentifier\":\"OPERATOR-A\",\"functionCallIdentifier\":\"crash-$fn-$ncall-$RANDOM\"}${fields:+,$fields}}"
	curl -s -m 10 -o "$out" --resolve "$FQDN:$P_ES2:127.0.0.1" \
		--cacert certs/sgp26-nist/ci.pem --cert "$pki/opa.pem" --key "$pki/opa.key" \
		-H 'Content-Type: application/json' -H 'X-Admin-Protocol: gsma/rsp/v2.5.0' \
		--data-binary "$body" "https://$FQDN:$P_ES2/gsma/rsp2/es2plus/$fn" >/dev/null
}
is_success() { grep -q '"functionExecutionStatus":{"status":"Executed-Success"}' "$1" 2>/dev/null; }
field_of() { sed -n "s/.*\"$2\":\"\\([^\"]*\\)\".*/\\1/p" "$1"; }
# the ledger: what the operator and the eUICC were told, one fact a line
#   ordered ICCID | confirmed ICCID MID | installed ICCID
LEDGER=$tmp/ledger
: >"$LEDGER"
# operator: downloadOrder + confirmOrder(releaseFlag) ; ARGS: TAG [EID]
op_flow() {
	local r=$tmp/es2.$1 iccid mid
	es2 "$r.o" downloadOrder "${2:+\"eid\":\"$2\",}\"profileType\":\"crash\""
	is_success "$r.o" || return 0
	iccid=$(field_of "$r.o" iccid)
	echo "ordered $iccid" >>"$LEDGER"
	es2 "$r.c" confirmOrder "\"iccid\":\"$iccid\",\"releaseFlag\":true"
	is_success "$r.c" || return 0
	mid=$(field_of "$r.c" matchingId)
	echo "confirmed $iccid $mid" >>"$LEDGER"
}
# eUICC: one download; DL OUTFILE MID
ndl=0
dl() {   # dl OUTFILE MID [CLIENT-OPTIONS]
	local o=$1 m=$2; shift 2
	"$CLIENT" download --pki certs/sgp26-nist --connect 127.0.0.1:$P_ES9 --timeout 5000 \
		--ac "LPA:1\$$FQDN\$$m" "$@" >"$o" 2>"$o.err"
	echo "exit=$?" >>"$o"
	if grep -q '^result: ok ' "$o"; then
		echo "installed $(sed -n 's/^result: ok .*iccid=\([0-9]*\).*/\1/p' "$o")" >>"$LEDGER"
	fi
}
# a clean outcome: ok, or an SGP.22 subject/reason code
CLEAN='^result: (ok |failed [A-Za-z]+ [0-9.]+/[0-9.]+ )'
# confirmed orders not yet installed per the database: "ICCID MID" lines
pending() {
	local i m s
	grep '^confirmed ' "$LEDGER" | while read -r _ i m; do
		s=$(state_of "$i")
		[ "$s" != $S_INSTALLED ] && [ "$s" != $S_ERROR ] && echo "$i $m"
	done
}

# ---------------------------------------------------------------- invariants
# violations are printed; the function succeeds when there are none
db_consistent() {
	local v=0 out
	out=$(sql "pragma integrity_check")
	[ "$out" = ok ] || { echo "    integrity_check: $out"; v=1; }
	out=$(sql "select iccid from orders where active=1 group by iccid having count(*)>1")
	[ -z "$out" ] || { echo "    profiles in two active orders: $out"; v=1; }
	out=$(sql "select matching_id from orders where active=1 and matching_id<>''
		group by matching_id having count(*)>1")
	[ -z "$out" ] || { echo "    matchingIds in two active orders: $out"; v=1; }
	# a profile between Allocated and Downloaded has its active order
	out=$(sql "select p.iccid from profiles p left join orders o on o.id=p.order_id
		where p.state between 2 and 6 and (o.id is null or o.active<>1 or o.iccid<>p.iccid)")
	[ -z "$out" ] || { echo "    profiles in an order state without their active order: $out"; v=1; }
	# an active order is the order of its profile, which is in an order state
	out=$(sql "select o.id from orders o left join profiles p on p.iccid=o.iccid
		where o.active=1 and (p.iccid is null or p.order_id<>o.id or p.state not between 2 and 6)")
	[ -z "$out" ] || { echo "    active orders whose profile is elsewhere: $out"; v=1; }
	# Installed or Error: their (finished) order is still there
	out=$(sql "select p.iccid from profiles p left join orders o on o.id=p.order_id
		where p.state in (7,8) and (o.id is null or o.iccid<>p.iccid)")
	[ -z "$out" ] || { echo "    finished profiles without their order: $out"; v=1; }
	# an Available profile belongs to no order
	out=$(sql "select o.id from orders o join profiles p on p.iccid=o.iccid
		where p.state=1 and o.active=1")
	[ -z "$out" ] || { echo "    Available profiles with an active order: $out"; v=1; }
	[ "$v" -eq 0 ]
}
told_kept() {   # every fact of the ledger is still true in the database
	local v=0 kind i m s n
	while read -r kind i m; do
		case $kind in
		ordered)
			n=$(sql "select count(*) from orders o join profiles p on p.order_id=o.id
				where o.iccid='$i' and o.operator<>'' and p.iccid='$i' and p.state between 2 and 8")
			[ "$n" = 1 ] || { echo "    order of $i told to the operator is lost (state $(state_of "$i"))"; v=1; } ;;
		confirmed)
			n=$(sql "select count(*) from orders o join profiles p on p.order_id=o.id
				where o.iccid='$i' and o.matching_id='$m' and o.confirmed=1 and p.state between 5 and 8")
			[ "$n" = 1 ] || { echo "    confirmOrder of $i ($m) told to the operator is lost (state $(state_of "$i"))"; v=1; } ;;
		installed)
			s=$(state_of "$i")
			[ "$s" = $S_INSTALLED ] || { echo "    download of $i acknowledged to the eUICC, but state is $s"; v=1; } ;;
		esac
	done <"$LEDGER"
	[ "$v" -eq 0 ]
}

start_peer_n || exit 1
start_smdp || exit 1

# ================================================================ queue survives a crash
# Deterministic: with the operator endpoint down, one order is downloaded to
# the end; its notifications are queued; smdp is killed, restarted, and the
# endpoint comes back: they must all arrive.
stop_peer
op_flow q "$EID1"
IQ=$(sed -n 's/^confirmed \([0-9]*\) .*/\1/p' "$LEDGER")
MQ=$(sed -n 's/^confirmed [0-9]* //p' "$LEDGER")
dl "$tmp/dq" "$MQ"
check "with the operator endpoint down, a download completes" grep -q "^result: ok .*iccid=$IQ " "$tmp/dq"
nq=$(sql "select count(*) from op_notifications where iccid='$IQ' and delivered=0")
check "its notifications are queued undelivered ($nq, sqlite3 CLI)" test "$nq" -ge 3
crash_smdp
check "after SIGKILL they are still queued" \
	test "$(sql "select count(*) from op_notifications where iccid='$IQ' and delivered=0")" = "$nq"
start_smdp || exit 1
start_peer_n || exit 1
for _ in $(seq 1 100); do
	[ "$(grep -c " iccid=$IQ " "$tmp/notifs" 2>/dev/null)" -ge 3 ] && break; sleep 0.1
done
check "after the restart the operator receives eligibility, BPP download, installation" \
	test "$(grep " iccid=$IQ " "$tmp/notifs" | sed -E 's/.* point=([0-9]+) status=([^ ]+) .*/\1:\2/' | tr '\n' ' ')" \
	= "1:Executed-Success 3:Executed-Success 4:Executed-Success "

# ================================================================ random kills
# one round's traffic: two operator flows (one order with the EID, one
# without) and up to two downloads of orders confirmed earlier, at once
start_traffic() {   # start_traffic TAG -> $w1 $w2
	local pend
	pend=$(pending | head -n 2)
	( op_flow "$1.1" "$EID1"; op_flow "$1.2" ) &
	w1=$!
	w2=
	if [ -n "$pend" ]; then
		( k=0; echo "$pend" | while read -r _ m; do k=$((k + 1))
			# the second eUICC waits before its PIR: a kill is likely to
			# find its profile Downloaded, the PIR then goes nowhere
			if [ $k -eq 2 ]; then dl "$tmp/c$1.$k" "$m" --pir-delay 150
			else dl "$tmp/c$1.$k" "$m"; fi
		done ) &
		w2=$!
	fi
}
# calibration: the same traffic without a kill sets the window the kills
# are drawn from (it varies with the machine and sanitizers)
start_traffic r0   # orders only: nothing confirmed yet to download
wait "$w1"; [ -n "$w2" ] && wait "$w2"
t0=$(date +%s%N)
start_traffic r00
wait "$w1"; [ -n "$w2" ] && wait "$w2"
window=${CRASH_WINDOW:-$((($(date +%s%N) - t0) / 1000000))}
[ "$window" -lt 40 ] && window=40
echo "# traffic of a round takes about $window ms: kills drawn from 0..$window ms"
rm -f "$tmp"/cr0.* "$tmp"/cr00.*

kills=0
chaos_dl=0
chaos_err=0
bad_outcome=0
bad_rounds=0
for r in $(seq 1 "$ROUNDS"); do
	# every other round the operator endpoint is down across the crash
	[ $((r % 2)) -eq 0 ] && stop_peer
	ms=$((RANDOM % window))
	delay=$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))
	start_traffic "r$r"
	sleep "$delay"
	crash_smdp
	kills=$((kills + 1))
	wait "$w1"; [ -n "$w2" ] && wait "$w2"
	for f in "$tmp"/cr"$r".*; do
		case $f in *.err) continue ;; esac
		[ -e "$f" ] || continue
		chaos_dl=$((chaos_dl + 1))
		# killed mid-session: a transport error is expected, nothing else
		grep -qE "$CLEAN|^result: error " "$f" || {
			bad_outcome=$((bad_outcome + 1)); echo "    round $r: $(grep -E '^(result|exit)' "$f" | tr '\n' ' ')"; }
		grep -q '^result: error ' "$f" && chaos_err=$((chaos_err + 1))
	done
	start_smdp || exit 1
	[ -z "$peer_pid" ] && { start_peer_n || exit 1; }
	db_consistent || { bad_rounds=$((bad_rounds + 1)); echo "    round $r (kill at ${delay}s): database inconsistent"; }
	told_kept || { bad_rounds=$((bad_rounds + 1)); echo "    round $r (kill at ${delay}s): something told was lost"; }
done
check "$kills kills with SIGKILL, after each restart: integrity_check ok, one active order per profile and matchingId, profiles and orders agree, nothing told lost" \
	test "$kills" -eq "$ROUNDS" -a "$bad_rounds" -eq 0
check "downloads cut by a kill ended with a transport error or a clean SGP.22 outcome ($chaos_dl downloads, $chaos_err cut)" \
	test "$bad_outcome" -eq 0

# ================================================================ recovery
# No more kills: every order the operator was told about is brought to its
# end. An order whose confirmOrder answer was lost is confirmed again; if
# the confirmation had been committed (refused 8.2.1/3.5), its activation
# code comes from smdp-admin ac.
grep '^ordered ' "$LEDGER" | while read -r _ i; do
	grep -q "^confirmed $i " "$LEDGER" && continue
	es2 "$tmp/rc" confirmOrder "\"iccid\":\"$i\",\"releaseFlag\":true"
	if is_success "$tmp/rc"; then
		echo "confirmed $i $(field_of "$tmp/rc" matchingId)" >>"$LEDGER"
		echo "reconfirmed $i" >>"$tmp/recovery"
	elif grep -q '"subjectCode":"8.2.1","reasonCode":"3.5"' "$tmp/rc"; then
		m=$(admin ac "$i" | sed -n "s/^LPA:1\\\$$FQDN\\\$//p")
		[ -n "$m" ] && echo "confirmed $i $m" >>"$LEDGER"
		echo "ac $i" >>"$tmp/recovery"
	else
		echo "    confirmOrder $i: $(head -c 200 "$tmp/rc")"
	fi
done
touch "$tmp/recovery"
echo "# recovery: $(grep -c '^reconfirmed ' "$tmp/recovery") orders confirmed again, $(grep -c '^ac ' "$tmp/recovery") confirmed before the kill (activation code from smdp-admin ac)"
n_ord=$(grep -c '^ordered ' "$LEDGER")
n_conf=$(grep -c '^confirmed ' "$LEDGER")
check "every order told to the operator is confirmed ($n_conf of $n_ord)" test "$n_conf" -eq "$n_ord"
unclean=0 retries=0
for pass_no in 1 2 3; do
	pend=$(pending)
	[ -z "$pend" ] && break
	while read -r i m; do
		retries=$((retries + 1))
		dl "$tmp/rec" "$m"
		grep -qE "$CLEAN" "$tmp/rec" || {
			unclean=$((unclean + 1)); echo "    retry of $i: $(grep -E '^(result|exit)' "$tmp/rec" | tr '\n' ' ')"; }
	done <<<"$pend"
done
n_inst=$(sql "select count(*) from profiles where state=$S_INSTALLED")
n_err=$(sql "select count(*) from profiles where state=$S_ERROR")
left=$(pending | wc -l)
echo "# recovery: $retries retried downloads, $n_inst Installed, $n_err Error, $left other"
check "every retried session completed or failed with a clean SGP.22 code" test "$unclean" -eq 0
check "every confirmed order ended Installed or Error ($((n_inst + n_err)) of $n_conf)" test "$left" -eq 0
check "after recovery: database consistent" db_consistent
# nothing here cancels an order, so a profile has had at most one order
check "no profile was given to two orders (sqlite3 CLI: one order row per ICCID)" \
	test -z "$(sql "select iccid from orders group by iccid having count(*)>1")"
check "the operator was never told the same ICCID twice" \
	test -z "$(grep '^ordered ' "$LEDGER" | sort | uniq -d)"
check "after recovery: nothing told to the operator or the eUICC was lost" told_kept

# ================================================================ notifications
for _ in $(seq 1 100); do
	[ "$(sql "select count(*) from op_notifications where delivered=0")" = 0 ] && break; sleep 0.1
done
check "the operator notification queue drains" \
	test "$(sql "select count(*) from op_notifications where delivered=0")" = 0
# every queued notification reached the endpoint (functionCallIdentifier
# smdp-<queue id>), possibly twice after a crash, never not at all
missing=$(sql "select id from op_notifications order by id" | while read -r id; do
	grep -q " call=smdp-$id " "$tmp/notifs" || echo "$id"; done | tr '\n' ' ')
check "every queued notification ($(sql "select count(*) from op_notifications")) reached the operator" \
	test -z "$missing"
[ -z "$missing" ] || echo "    missing queue ids: $missing"
noinst=$(sql "select iccid from profiles where state=$S_INSTALLED" | while read -r i; do
	grep -q "point=4 status=Executed-Success code=-/- iccid=$i " "$tmp/notifs" || echo "$i"; done)
check "every Installed profile was reported installed (point 4) to the operator" test -z "$noinst"
[ -z "$noinst" ] || echo "    not reported: $noinst"

kill "$smdp_pid"; wait "$smdp_pid" 2>/dev/null; smdp_pid=
stop_peer
# the invariant checks can fail: on copies of the final database, a told
# order undone, and a finished order made active again
fails() { ! "$@" >/dev/null; }
I0=$(sed -n '1s/^ordered //p' "$LEDGER")
cp "$tmp/smdp.db" "$tmp/mut1.db"; cp "$tmp/smdp.db" "$tmp/mut2.db"
DB=$tmp/mut1.db
sql "update profiles set state=$S_AVAILABLE, order_id=0 where iccid='$I0'"
check "self-test: a told order undone in a copy is reported lost" \
	fails told_kept
DB=$tmp/mut2.db
sql "update orders set active=1 where iccid='$I0'"
check "self-test: an Installed profile's order made active in a copy is reported" \
	fails db_consistent
DB=$tmp/smdp.db

check "no sanitizer report in the server logs" \
	bash -c "! grep -l -E 'Sanitizer|runtime error' $tmp/smdp*.log $tmp/peer.log"
check "no bad request reached the operator endpoint" bash -c "! grep -q 'bad-request\|ts=bad\|cert=no' $tmp/notifs"
orphans=$(sql "select iccid from profiles where state between 2 and 6" | while read -r i; do
	grep -q "^ordered $i\$" "$LEDGER" || echo "$i"; done | wc -l)
echo "# $orphans orders committed whose answer a kill cut (the operator never learnt them; left Allocated/Linked)"
echo "# replay: CRASH_SEED=$SEED CRASH_ROUNDS=$ROUNDS CRASH_WINDOW=$window"
echo "# seed $SEED: $kills kills, $(grep -c '^ordered ' "$LEDGER") orders, $chaos_dl downloads during the kills"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
