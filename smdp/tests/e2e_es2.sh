#!/usr/bin/env bash
# e2e_es2.sh - ES2+ end to end: a test operator (curl with client
# certificates from a test CA made here with the openssl CLI) orders,
# confirms, releases and cancels downloads on build/smdp (mode orders), then
# build/smdp-client downloads over ES9+. Checks every ES2+ and ES9+ error
# code of the lifecycle, the profile states in SQLite (sqlite3 CLI), the
# handleDownloadProgressInfo notifications received in order by a test
# operator endpoint (build/test-tools/es2_peer), a refused client
# certificate, parallel downloadOrders on a small pool, and a server killed
# in the middle of a download. Prints ok/not ok per check and a summary.
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
SMDP=$BUILD/smdp
ADMIN=$BUILD/smdp-admin
CLIENT=$BUILD/smdp-client
PEER=$BUILD/test-tools/es2_peer
BASE=${E2E_ES2_PORT:-18500}
P_ES9=$BASE
P_ES2=$((BASE + 1))
P_PEER=$((BASE + 2))
FQDN=testsmdpplus1.example.com
EID1=89049032123451234512345678901235     # the SGP.26 test eUICC of smdp-client
EID2=89049032123451234512345678909999
tmp=$(mktemp -d)
pki=$tmp/pki
pass=0
fail=0
smdp_pid=
peer_pid=

cleanup() {
	[ -n "$smdp_pid" ] && kill "$smdp_pid" 2>/dev/null && wait "$smdp_pid" 2>/dev/null
	[ -n "$peer_pid" ] && kill "$peer_pid" 2>/dev/null && wait "$peer_pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

check() {   # check DESCRIPTION COMMAND...
	local d=$1; shift
	if "$@"; then pass=$((pass + 1)); echo "ok - $d"
	else fail=$((fail + 1)); echo "not ok - $d"; fi
}

# ---------------------------------------------------------------- PKI
# Operator CA (client certificates of operators, the endpoint's server
# certificate and smdp's client certificate towards it), and a rogue CA.
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
CLIENT_EXT="extendedKeyUsage=clientAuth"
mkca opca "Test Operator CA" && mkca rogueca "Rogue CA" &&
mkcert opa "operator-a" opca "$CLIENT_EXT" &&
mkcert opb "operator-b" opca "$CLIENT_EXT" &&
mkcert rogue "operator-a" rogueca "$CLIENT_EXT" &&
mkcert smdpcli "smdp" opca "$CLIENT_EXT" &&
mkcert peer "operator-a endpoint" opca \
	"extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1"
check "test PKI made with the openssl CLI" test -s "$pki/peer.pem" -a -s "$pki/rogue.pem"

# ---------------------------------------------------------------- profiles
# Copies of a TS.48 profile, each with its own ICCID: the 10 bytes of the
# ProfileHeader (tag 83, digits in order) and of EF.ICCID (nibble-swapped)
# rewritten with perl, independently of smdp's code.
SRC=profiles/TS48v2_SAIP2.3_NoBERTLV.der
mkdir -p "$tmp/profiles"
mkprofile() {   # mkprofile NAME ICCID20
	local plain=$1 swapped
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
iccid_of() { printf '899900000000000%05d' "$1"; }   # 20 digits
declare -A FILE_OF
mk() {   # mk NUMBER : the profile file p<NUMBER>
	local i; i=$(iccid_of "$1")
	mkprofile "p$1" "$i" && FILE_OF[$i]=p$1
}
# pools: poolA p1..p12, poolCC p13..p16, poolB p21..p22, par p31..p35 (and
# p40 'late', made once the server runs)
pool_of() {
	if [ "$1" -le 12 ]; then echo poolA; elif [ "$1" -le 16 ]; then echo poolCC
	elif [ "$1" -le 22 ]; then echo poolB; elif [ "$1" -le 35 ]; then echo par
	else echo late; fi
}
for n in $(seq 1 16) 21 22 $(seq 31 35); do mk "$n"; done
check "23 profile copies with distinct ICCIDs" test "$(ls "$tmp/profiles" | wc -l)" -eq 23
cp "$SRC" "$tmp/profiles/orig.der"

CONF=$tmp/smdp.conf
cat >"$CONF" <<EOF
mode = orders
db = $tmp/smdp.db
profiles = $tmp/profiles
listen.nist = 127.0.0.1:$P_ES9
listen.brainpool = off
listen.es2 = 127.0.0.1:$P_ES2
listen.es2.client-ca = $pki/opca.pem
max-download-attempts = 3
cc-max-attempts = 3
notify-retry-min = 1
notify-retry-max = 2
operator.a.id = OPERATOR-A
operator.a.client-cert = $pki/opa.pem
operator.a.profile-types = poolA, poolCC, par, late
operator.a.notify-url = https://127.0.0.1:$P_PEER
operator.a.notify-ca = $pki/opca.pem
operator.a.notify-cert = $pki/smdpcli.pem
operator.a.notify-key = $pki/smdpcli.key
operator.b.id = OPERATOR-B
operator.b.client-cert = $pki/opb.pem
operator.b.profile-types = poolB
EOF
admin() { "$ADMIN" --config "$CONF" "$@"; }
sql() { sqlite3 "$tmp/smdp.db" "$1"; }
state_of() { sql "select state from profiles where iccid='$1'"; }
# profile states as stored (SGP.22 names, smdp.h enum profile_state)
S_AVAILABLE=1 S_ALLOCATED=2 S_LINKED=3 S_CONFIRMED=4 S_RELEASED=5 S_DOWNLOADED=6
S_INSTALLED=7 S_ERROR=8 S_UNAVAILABLE=9
state_is() {   # state_is ICCID STATE
	local s; s=$(state_of "$1")
	[ "$s" = "$2" ] || { echo "    state of $1 is '$s', expected $2"; return 1; }
}

# ---------------------------------------------------------------- import
ok_import=0
for f in "$tmp"/profiles/p*.der; do
	n=${f##*/p}; n=${n%.der}
	admin import "$f" --type "$(pool_of "$n")" >"$tmp/imp.out" 2>&1 && ok_import=$((ok_import + 1))
done
check "smdp-admin imported 23 profiles" test "$ok_import" -eq 23
check "sqlite3 CLI sees 23 Available profiles" \
	test "$(sql "select count(*) from profiles where state=$S_AVAILABLE")" = 23
check "... of which 12 in poolA" test "$(sql "select count(*) from profiles where type='poolA'")" = 12
admin import "$tmp/profiles/orig.der" --type poolA >"$tmp/imp.out" 2>&1; rc=$?
admin import "$tmp/profiles/orig.der" --type poolA >"$tmp/imp2.out" 2>&1; rc2=$?
check "import of the TS.48 ICCID once is accepted, twice refused (exit 2)" \
	test "$rc" -eq 0 -a "$rc2" -eq 2
check "the refusal names the duplicate ICCID" grep -q "89000123456789012341 .*already in the inventory" "$tmp/imp2.out"
admin import "$SRC" --type poolA >"$tmp/imp3.out" 2>&1; rc=$?
check "import of a file outside the profiles directory is refused" \
	grep -q "import takes packages of the profiles directory" "$tmp/imp3.out"
sql "delete from profiles where file='orig'"   # keep the pools exactly as made

# ---------------------------------------------------------------- servers
start_peer() {   # start_peer [--fail N]
	"$PEER" --listen 127.0.0.1:$P_PEER --cert "$pki/peer.pem" --key "$pki/peer.key" \
		--client-ca "$pki/opca.pem" --out "$tmp/notifs" "$@" >"$tmp/peer.log" 2>&1 &
	peer_pid=$!
	for _ in $(seq 1 100); do grep -q "listening" "$tmp/peer.log" && return 0; sleep 0.05; done
	echo "peer did not start"; cat "$tmp/peer.log"; return 1
}
stop_peer() { kill "$peer_pid"; wait "$peer_pid" 2>/dev/null; peer_pid=; }
nlog=0
start_smdp() {
	nlog=$((nlog + 1))
	"$SMDP" --config "$CONF" >"$tmp/smdp$nlog.log" 2>&1 &
	smdp_pid=$!
	for _ in $(seq 1 100); do
		grep -q "listening on .*(es2)" "$tmp/smdp$nlog.log" && return 0
		kill -0 "$smdp_pid" 2>/dev/null || break
		sleep 0.1
	done
	echo "smdp did not start:"; cat "$tmp/smdp$nlog.log"; return 1
}
start_peer || exit 1
start_smdp || exit 1
# a package added after the start: in the inventory, but not loaded by smdp
mk 40 && admin import "$tmp/profiles/p40.der" --type late >/dev/null

# ---------------------------------------------------------------- ES2+ helpers
ncall=0
# es2 CERT FUNCTION JSON-FIELDS [REQUESTER] -> $tmp/r (body), returns curl's status
es2() {
	local cert=$1 fn=$2 fields=$3 req=${4-OPERATOR-A} body
	ncall=$((ncall + 1))
	body="{\"header\":{\"functionRequesterIdentifier\":\"$req\",\"functionCallIdentifier\":\"call-$ncall\"}${fields:+,$fields}}"
	curl -s -o "$tmp/r" -w '%{http_code}' --resolve "$FQDN:$P_ES2:127.0.0.1" \
		--cacert certs/sgp26-nist/ci.pem ${cert:+--cert "$pki/$cert.pem" --key "$pki/$cert.key"} \
		-H 'Content-Type: application/json' -H 'X-Admin-Protocol: gsma/rsp/v2.5.0' \
		--data-binary "$body" "https://$FQDN:$P_ES2/gsma/rsp2/es2plus/$fn" >"$tmp/http"
}
success() {
	grep -q '"functionExecutionStatus":{"status":"Executed-Success"}' "$tmp/r" ||
		{ echo "    got: $(head -c 300 "$tmp/r")"; return 1; }
}
failed_with() {   # failed_with SUBJECT REASON : header-only Failed body
	grep -q "^{\"header\":{\"functionExecutionStatus\":{\"status\":\"Failed\",\"statusCodeData\":{\"subjectCode\":\"$1\",\"reasonCode\":\"$2\"[^}]*}}}}\$" "$tmp/r" ||
		{ echo "    expected $1/$2, got: $(head -c 300 "$tmp/r")"; return 1; }
}
field() { sed -n "s/.*\"$1\":\"\\([^\"]*\\)\".*/\\1/p" "$tmp/r"; }
order() {   # order FIELDS -> ICCID in $got
	es2 opa downloadOrder "$1"; got=$(field iccid)
}

# smdp-client download; out file keeps the result line
dl() {   # dl OUTFILE ARGS...
	local o=$1; shift
	"$CLIENT" download --pki certs/sgp26-nist --connect 127.0.0.1:$P_ES9 "$@" >"$o" 2>"$o.err"
	echo "exit=$?" >>"$o"
}
result_is() {
	grep -qE "$2" "$1" && return 0
	echo "    expected /$2/, got: $(grep '^result' "$1")"; tail -n 3 "$1.err" | sed 's/^/    /'
	return 1
}
# notifs_for ICCID -> "point:status:subject/reason" lines in arrival order
notifs_for() { grep " iccid=$1 " "$tmp/notifs" | sed -E 's/.* point=([0-9-]+) status=([^ ]+) code=([^ ]+) .*/\1:\2:\3/'; }
wait_notifs() {   # wait_notifs ICCID COUNT
	for _ in $(seq 1 100); do
		[ "$(notifs_for "$1" | wc -l)" -ge "$2" ] && return 0
		sleep 0.1
	done
	return 1
}
notifs_are() {   # notifs_are ICCID EXPECTED (space-separated)
	wait_notifs "$1" "$(echo "$2" | wc -w)"
	local got; got=$(notifs_for "$1" | tr '\n' ' ' | sed 's/ $//')
	[ "$got" = "$2" ] || { echo "    notifications for $1: '$got', expected '$2'"; return 1; }
}

# ================================================================ nominal flows
# 1. with EID, without CC, releaseFlag true
order "\"eid\":\"$EID1\",\"profileType\":\"poolA\""
I1=$got
check "downloadOrder(EID, profileType) -> Executed-Success with an ICCID" success
check "the ICCID is the pool's lowest, now Linked" state_is "$I1" $S_LINKED
check "it is $(iccid_of 1)" test "$I1" = "$(iccid_of 1)"
es2 opa confirmOrder "\"iccid\":\"$I1\",\"releaseFlag\":true"
M1=$(field matchingId)
check "confirmOrder(releaseFlag) -> Executed-Success" success
check "generated matchingId has the AC token form ($M1)" \
	bash -c "[[ '$M1' =~ ^[0-9A-Z]{5}(-[0-9A-Z]{5}){4}$ ]]"
check "confirmOrder answers eid and smdpAddress" \
	test "$(field eid)" = "$EID1" -a "$(field smdpAddress)" = "$FQDN"
check "profile Released" state_is "$I1" $S_RELEASED
check "smdp logs the activation code" grep -qF "activation code LPA:1\$$FQDN\$$M1" "$tmp/smdp1.log"
dl "$tmp/d1" --ac "LPA:1\$$FQDN\$$M1" --expect "$tmp/profiles/${FILE_OF[$I1]}.der"
check "download with the activation code installs that profile" \
	result_is "$tmp/d1" "^result: ok .*iccid=$I1 .*match=yes"
check "profile Installed" state_is "$I1" $S_INSTALLED
check "operator told: eligibility, BPP download, BPP installation, in order" \
	notifs_are "$I1" "1:Executed-Success:-/- 3:Executed-Success:-/- 4:Executed-Success:-/-"
check "installation notification carries the PIR (BF37) and the EID" \
	grep -q "point=4 .* iccid=$I1 eid=$EID1 type=poolA .*requester=$FQDN result=BF37 ts=ok cert=yes" "$tmp/notifs"
dl "$tmp/d1b" --ac "LPA:1\$$FQDN\$$M1"
check "the matchingId of an installed order is refused -> 8.2.6/3.8" \
	result_is "$tmp/d1b" '^result: failed authenticateClient 8\.2\.6/3\.8'

# 2. without EID, with a confirmation code, release later
order "\"profileType\":\"poolCC\""
I2=$got
check "downloadOrder(profileType) without EID -> Allocated" state_is "$I2" $S_ALLOCATED
CC=Zq-7391-cc
es2 opa confirmOrder "\"iccid\":\"$I2\",\"confirmationCode\":\"$CC\",\"releaseFlag\":false"
M2=$(field matchingId)
check "confirmOrder(CC, releaseFlag false) -> Confirmed" state_is "$I2" $S_CONFIRMED
check "confirmOrder without EID answers no eid" bash -c "! grep -q '\"eid\"' $tmp/r"
check "activation code with the CC flag is logged" \
	grep -qF "activation code LPA:1\$$FQDN\$$M2\$\$1" "$tmp/smdp1.log"
want=$(printf '%s' "$CC" | openssl dgst -sha256 -r | cut -c1-64 | tr a-f A-F)
check "the order keeps SHA-256(CC) (openssl dgst), not the CC" \
	test "$(sql "select hex(cc_hash) from orders where iccid='$I2'")" = "$want"
check "the CC appears nowhere in the database files" \
	bash -c "! grep -qaF '$CC' $tmp/smdp.db $tmp/smdp.db-wal 2>/dev/null"
dl "$tmp/d2" --ac "LPA:1\$$FQDN\$$M2" --cc "$CC"
check "download of a Confirmed profile -> 8.2/1.2 (not released)" \
	result_is "$tmp/d2" '^result: failed authenticateClient 8\.2/1\.2'
es2 opa releaseProfile "\"iccid\":\"$I2\""
check "releaseProfile -> Released" state_is "$I2" $S_RELEASED
dl "$tmp/d2" --ac "LPA:1\$$FQDN\$$M2" --cc "wrong"
check "wrong CC -> getBoundProfilePackage 8.2.7/3.8" \
	result_is "$tmp/d2" '^result: failed getBoundProfilePackage 8\.2\.7/3\.8'
dl "$tmp/d2" --ac "LPA:1\$$FQDN\$$M2"
check "missing CC -> getBoundProfilePackage 8.2.7/2.2" \
	result_is "$tmp/d2" '^result: failed getBoundProfilePackage 8\.2\.7/2\.2'
dl "$tmp/d2" --ac "LPA:1\$$FQDN\$$M2" --cc "$CC" --expect "$tmp/profiles/${FILE_OF[$I2]}.der"
check "right CC -> installed (third download attempt of three)" \
	result_is "$tmp/d2" "^result: ok .*iccid=$I2 .*match=yes"
check "operator told of the early attempt, both CC failures, then the success" notifs_are "$I2" \
	"1:Failed:8.2/1.2 1:Executed-Success:-/- 2:Failed:8.2.7/3.8 1:Executed-Success:-/- 2:Failed:8.2.7/2.2 1:Executed-Success:-/- 3:Executed-Success:-/- 4:Executed-Success:-/-"
check "neither the CC nor its hash is in the log" \
	bash -c "! grep -qiE '$CC|$want' $tmp/smdp1.log"

# 3. CC retries exceeded
order "\"eid\":\"$EID1\",\"profileType\":\"poolCC\""
I3=$got
es2 opa confirmOrder "\"iccid\":\"$I3\",\"confirmationCode\":\"1111\",\"releaseFlag\":true"
M3=$(field matchingId)
for k in 1 2; do dl "$tmp/d3" --ac "LPA:1\$$FQDN\$$M3" --cc 2222; done
check "second wrong CC -> 8.2.7/3.8" result_is "$tmp/d3" 'getBoundProfilePackage 8\.2\.7/3\.8'
dl "$tmp/d3" --ac "LPA:1\$$FQDN\$$M3" --cc 2222
check "third wrong CC -> 8.2.7/6.4 (retries exceeded)" \
	result_is "$tmp/d3" '^result: failed getBoundProfilePackage 8\.2\.7/6\.4'
check "the order failed: profile in Error" state_is "$I3" $S_ERROR
check "operator told at point 2 with 6.4" grep -q "point=2 status=Failed code=8.2.7/6.4 iccid=$I3 " "$tmp/notifs"
dl "$tmp/d3" --ac "LPA:1\$$FQDN\$$M3" --cc 1111
check "after that even the right CC is refused -> 8.2/1.2" \
	result_is "$tmp/d3" '^result: failed authenticateClient 8\.2/1\.2'
es2 opa cancelOrder "\"iccid\":\"$I3\",\"finalProfileStatusIndicator\":\"Unavailable\""
check "cancelOrder(Unavailable) of the failed order" state_is "$I3" $S_UNAVAILABLE

# 4. default SM-DP+ by EID: matchingId absent, then present but empty
order "\"eid\":\"$EID1\",\"profileType\":\"poolA\""
I4=$got
es2 opa confirmOrder "\"iccid\":\"$I4\",\"matchingId\":\"\",\"releaseFlag\":true"
check "confirmOrder with empty matchingId (default SM-DP+) -> Executed-Success" success
check "it answers the empty matchingId" grep -q '"matchingId":""' "$tmp/r"
check "no activation code for the default SM-DP+ case" \
	grep -q "ICCID $I4 Released for EID $EID1 (default SM-DP+" "$tmp/smdp1.log"
dl "$tmp/d4" --ac "LPA:1\$$FQDN" --expect "$tmp/profiles/${FILE_OF[$I4]}.der"
check "default SM-DP+ download (matchingId absent) finds the order by EID" \
	result_is "$tmp/d4" "^result: ok .*iccid=$I4 .*match=yes"
order "\"eid\":\"$EID1\",\"profileType\":\"poolA\""
I5=$got
es2 opa confirmOrder "\"iccid\":\"$I5\",\"matchingId\":\"\",\"releaseFlag\":true"
dl "$tmp/d5" --ac "LPA:1\$$FQDN" --matching-id '' --expect "$tmp/profiles/${FILE_OF[$I5]}.der"
check "default SM-DP+ download (matchingId present but empty)" \
	result_is "$tmp/d5" "^result: ok .*iccid=$I5 .*match=yes"
dl "$tmp/d5" --ac "LPA:1\$$FQDN"
check "default SM-DP+ with no order left for the EID -> 8.1.1/3.8" \
	result_is "$tmp/d5" '^result: failed authenticateClient 8\.1\.1/3\.8'

# ================================================================ ES9+ errors
dl "$tmp/e" --ac "LPA:1\$$FQDN\$NO-SUCH-ORDER"
check "unknown matchingId -> 8.2.6/3.8" result_is "$tmp/e" 'authenticateClient 8\.2\.6/3\.8'
dl "$tmp/e" --ac "LPA:1\$$FQDN\$p7"
check "orders mode: a file stem is no matchingId -> 8.2.6/3.8" \
	result_is "$tmp/e" 'authenticateClient 8\.2\.6/3\.8'
order "\"eid\":\"$EID2\",\"profileType\":\"poolA\""
I6=$got
es2 opa confirmOrder "\"iccid\":\"$I6\",\"releaseFlag\":true"
M6=$(field matchingId)
dl "$tmp/e" --ac "LPA:1\$$FQDN\$$M6"
check "order for another EID -> 8.1.1/3.8" result_is "$tmp/e" 'authenticateClient 8\.1\.1/3\.8'
check "operator told of the failed eligibility check" \
	notifs_are "$I6" "1:Failed:8.1.1/3.8"
check "the profile stays Released" state_is "$I6" $S_RELEASED

ILATE=$(iccid_of 40)
es2 opa downloadOrder "\"iccid\":\"$ILATE\""
es2 opa confirmOrder "\"iccid\":\"$ILATE\",\"releaseFlag\":true"
ML=$(field matchingId)
dl "$tmp/e" --ac "LPA:1\$$FQDN\$$ML"
check "profile whose package smdp has not loaded -> 8.2.5/4.3 (no eligible profile)" \
	result_is "$tmp/e" 'authenticateClient 8\.2\.5/4\.3'

# order expiry: smdp-admin makes the order with a 1 s lifetime
I7=$("$ADMIN" --config "$CONF" --order-ttl 1 order --type poolA --eid "$EID1" | sed -n 's/^iccid //p')
M7=$(admin confirm "$I7" --release | sed -n 's/^matchingId //p')
sleep 2.2
dl "$tmp/e" --ac "LPA:1\$$FQDN\$$M7"
check "expired order -> 8.8.5/4.10" result_is "$tmp/e" 'authenticateClient 8\.8\.5/4\.10'
check "operator told of the expiry (admin order of its pool)" notifs_are "$I7" "1:Failed:8.8.5/4.10"

# download attempts: three postponed cancels, then the fourth attempt
order "\"eid\":\"$EID1\",\"profileType\":\"poolA\""
I8=$got
es2 opa confirmOrder "\"iccid\":\"$I8\",\"releaseFlag\":true"
M8=$(field matchingId)
for k in 1 2 3; do dl "$tmp/e$k" --ac "LPA:1\$$FQDN\$$M8" --cancel postponed; done
check "cancelSession(postponed) keeps the profile Released" state_is "$I8" $S_RELEASED
check "three attempts with cancelSession(postponed) end ok" \
	result_is "$tmp/e3" '^result: ok .*cancelled=1'
dl "$tmp/e" --ac "LPA:1\$$FQDN\$$M8"
check "fourth attempt -> 8.8.5/6.4 (max download attempts 3)" \
	result_is "$tmp/e" 'authenticateClient 8\.8\.5/6\.4'
check "the cancels were told at point 3, the refusal at point 1" notifs_are "$I8" \
	"1:Executed-Success:-/- 3:Failed:8.1/3.8 1:Executed-Success:-/- 3:Failed:8.1/3.8 1:Executed-Success:-/- 3:Failed:8.1/3.8 1:Failed:8.8.5/6.4"

# cancelSession effects, PIR errorResult
order "\"profileType\":\"poolA\""
I9=$got
es2 opa confirmOrder "\"iccid\":\"$I9\",\"releaseFlag\":true"
M9=$(field matchingId)
dl "$tmp/e" --ac "LPA:1\$$FQDN\$$M9" --cancel "postponed@bpp"
check "cancelSession(postponed) after the BPP: Downloaded -> Released" state_is "$I9" $S_RELEASED
check "the first download bound the order to the EID" \
	test "$(sql "select eid from orders where iccid='$I9' and active=1")" = "$EID1"
dl "$tmp/e" --ac "LPA:1\$$FQDN\$$M9" --pir-error loadProfileElements:installFailedDueToPEProcessingError
check "errorResult PIR accepted" result_is "$tmp/e" '^result: ok'
check "handleNotification errorResult: Downloaded -> Error" state_is "$I9" $S_ERROR
check "operator told of the failed installation with the PIR" \
	grep -q "point=4 status=Failed code=8.1/4.2 iccid=$I9 .*result=BF37" "$tmp/notifs"
order "\"eid\":\"$EID1\",\"profileType\":\"poolA\""
I10=$got
es2 opa confirmOrder "\"iccid\":\"$I10\",\"releaseFlag\":true"
M10=$(field matchingId)
dl "$tmp/e" --ac "LPA:1\$$FQDN\$$M10" --cancel endUserRejection
check "cancelSession(endUserRejection) -> Error" state_is "$I10" $S_ERROR
es2 opa cancelOrder "\"iccid\":\"$I10\",\"eid\":\"$EID1\",\"matchingId\":\"$M10\",\"finalProfileStatusIndicator\":\"Available\""
check "cancelOrder(Available) with the order's EID and matchingId" state_is "$I10" $S_AVAILABLE
dl "$tmp/e" --ac "LPA:1\$$FQDN\$$M10"
check "the cancelled order's matchingId is refused -> 8.2.6/3.8" \
	result_is "$tmp/e" 'authenticateClient 8\.2\.6/3\.8'

# ================================================================ ES2+ errors
IA=$(iccid_of 9)   # a poolA profile still Available
es2 opa downloadOrder "\"iccid\":\"89990000000000099999\""
check "downloadOrder unknown ICCID -> 8.2.1/3.9" failed_with 8.2.1 3.9
es2 opb downloadOrder "\"iccid\":\"$IA\"" OPERATOR-B
check "downloadOrder of another operator's ICCID -> 8.2.1/1.2" failed_with 8.2.1 1.2
es2 opa downloadOrder "\"iccid\":\"$IA\",\"profileType\":\"poolCC\""
check "downloadOrder ICCID of another type -> 8.2.5/3.8" failed_with 8.2.5 3.8
es2 opa downloadOrder "\"profileType\":\"nosuch\""
check "downloadOrder unknown profileType -> 8.2.5/3.9" failed_with 8.2.5 3.9
es2 opb downloadOrder "\"profileType\":\"poolA\"" OPERATOR-B
check "downloadOrder of a pool the operator does not own -> 8.2.5/3.9" failed_with 8.2.5 3.9
es2 opa downloadOrder "\"eid\":\"$EID1\""
check "downloadOrder without iccid and profileType -> 1.2.1/2.2" failed_with 1.2.1 2.2
es2 opa downloadOrder "\"eid\":\"1234\",\"profileType\":\"poolA\""
check "downloadOrder with a malformed EID -> 1.2.1/2.1" failed_with 1.2.1 2.1
es2 opa confirmOrder "\"iccid\":\"$IA\",\"releaseFlag\":true"
check "confirmOrder of an Available profile -> 8.2.1/3.5" failed_with 8.2.1 3.5
es2 opa downloadOrder "\"iccid\":\"$IA\""
check "downloadOrder by ICCID -> Allocated" state_is "$IA" $S_ALLOCATED
es2 opa downloadOrder "\"iccid\":\"$IA\""
check "downloadOrder of an ICCID in use -> 8.2.1/3.3" failed_with 8.2.1 3.3
es2 opa releaseProfile "\"iccid\":\"$IA\""
check "releaseProfile of an Allocated profile -> 8.2.1/3.5" failed_with 8.2.1 3.5
es2 opa confirmOrder "\"iccid\":\"$IA\""
check "confirmOrder without releaseFlag -> 1.2.1/2.2" failed_with 1.2.1 2.2
es2 opa confirmOrder "\"iccid\":\"$IA\",\"matchingId\":\"\",\"releaseFlag\":true"
check "default SM-DP+ confirmOrder without any EID -> 8.1.1/2.2" failed_with 8.1.1 2.2
es2 opa confirmOrder "\"iccid\":\"$IA\",\"smdsAddress\":\"smds.example.com\",\"releaseFlag\":true"
check "SM-DS confirmOrder without any EID -> 8.1.1/2.2" failed_with 8.1.1 2.2
es2 opb confirmOrder "\"iccid\":\"$IA\",\"releaseFlag\":true" OPERATOR-B
check "confirmOrder on another operator's profile -> 8.2.1/1.2" failed_with 8.2.1 1.2
es2 opa confirmOrder "\"iccid\":\"$IA\",\"matchingId\":\"$M9\",\"releaseFlag\":true"
check "confirmOrder with a matchingId in use -> 8.2.6/3.3" failed_with 8.2.6 3.3
es2 opa confirmOrder "\"iccid\":\"$IA\",\"eid\":\"$EID2\",\"matchingId\":\"LAB-EVENT-1\",\"smdsAddress\":\"smds.example.com\",\"releaseFlag\":false"
check "confirmOrder with EID, own matchingId and smdsAddress (SM-DS case)" success
check "the SM-DS address is stored with the order" \
	test "$(sql "select smds_address from orders where iccid='$IA' and active=1")" = smds.example.com
es2 opa releaseProfile "\"iccid\":\"$IA\""
check "releaseProfile -> Released" success
es2 opa confirmOrder "\"iccid\":\"$I8\",\"eid\":\"$EID2\",\"releaseFlag\":true"
check "confirmOrder of a Released profile -> 8.2.1/3.5" failed_with 8.2.1 3.5
order "\"eid\":\"$EID1\",\"profileType\":\"poolA\""
IB=$got
es2 opa confirmOrder "\"iccid\":\"$IB\",\"eid\":\"$EID2\",\"releaseFlag\":true"
check "confirmOrder with another EID than the order's -> 8.1.1/3.10" failed_with 8.1.1 3.10
es2 opa cancelOrder "\"iccid\":\"$IA\",\"matchingId\":\"OTHER\",\"finalProfileStatusIndicator\":\"Available\""
check "cancelOrder with another matchingId -> 8.2.6/3.10" failed_with 8.2.6 3.10
es2 opa cancelOrder "\"iccid\":\"$IA\",\"eid\":\"$EID1\",\"finalProfileStatusIndicator\":\"Available\""
check "cancelOrder with another EID -> 8.1.1/3.10" failed_with 8.1.1 3.10
es2 opa cancelOrder "\"iccid\":\"$IA\",\"finalProfileStatusIndicator\":\"Gone\""
check "cancelOrder with a bad finalProfileStatusIndicator -> 1.2.1/2.1" failed_with 1.2.1 2.1
es2 opa cancelOrder "\"iccid\":\"$I1\",\"finalProfileStatusIndicator\":\"Available\""
check "cancelOrder of an Installed profile -> 8.2.1/3.5" failed_with 8.2.1 3.5
es2 opb cancelOrder "\"iccid\":\"$IA\",\"finalProfileStatusIndicator\":\"Available\"" OPERATOR-B
check "cancelOrder of another operator's profile -> 8.2.1/1.2" failed_with 8.2.1 1.2
check "... which stays Released" state_is "$IA" $S_RELEASED

# who is calling
es2 opa downloadOrder "\"profileType\":\"poolA\"" NOBODY
check "unknown functionRequesterIdentifier -> 1.1/1.2" failed_with 1.1 1.2
es2 opa downloadOrder "\"profileType\":\"poolB\"" OPERATOR-B
check "operator A's certificate with B's identifier -> 1.1/1.2" failed_with 1.1 1.2
es2 opb downloadOrder "\"profileType\":\"poolB\"" OPERATOR-B
check "operator B orders from its own pool" success
es2 opa downloadOrder '"profileType":"poolA"' "" 
check "empty functionRequesterIdentifier -> 1.1/1.2" failed_with 1.1 1.2
es2 "" downloadOrder "\"profileType\":\"poolA\""; rc=$?
check "no client certificate: refused in the TLS handshake (no HTTP status)" \
	test "$(cat "$tmp/http")" = 000
es2 rogue downloadOrder "\"profileType\":\"poolA\""
check "client certificate of another CA: refused in the TLS handshake" \
	test "$(cat "$tmp/http")" = 000
curl -s -o /dev/null -w '%{http_code}' --resolve "$FQDN:$P_ES2:127.0.0.1" \
	--cacert certs/sgp26-nist/ci.pem --cert "$pki/opa.pem" --key "$pki/opa.key" \
	"https://$FQDN:$P_ES2/gsma/rsp2/es2plus/downloadOrder" >"$tmp/http"
check "GET -> 405" test "$(cat "$tmp/http")" = 405
es2 opa noSuchFunction '"iccid":"1"'
check "unknown ES2+ function -> 404" test "$(cat "$tmp/http")" = 404
curl -s -o /dev/null -w '%{http_code}' --resolve "$FQDN:$P_ES9:127.0.0.1" \
	--cacert certs/sgp26-nist/ci.pem -H 'Content-Type: application/json' --data-binary '{}' \
	"https://$FQDN:$P_ES9/gsma/rsp2/es2plus/downloadOrder" >"$tmp/http"
check "ES2+ is not served on the ES9+ listener (404)" test "$(cat "$tmp/http")" = 404
curl -s -o /dev/null -w '%{http_code}' --resolve "$FQDN:$P_ES2:127.0.0.1" \
	--cacert certs/sgp26-nist/ci.pem --cert "$pki/opa.pem" --key "$pki/opa.key" \
	-H 'Content-Type: application/json' --data-binary '{}' \
	"https://$FQDN:$P_ES2/gsma/rsp2/es9plus/initiateAuthentication" >"$tmp/http"
check "ES9+ is not served on the ES2+ listener (404)" test "$(cat "$tmp/http")" = 404

# ================================================================ parallel orders
N=12
par_pids=()
for k in $(seq 1 $N); do
	( body="{\"header\":{\"functionRequesterIdentifier\":\"OPERATOR-A\",\"functionCallIdentifier\":\"par-$k\"},\"profileType\":\"par\"}"
	  curl -s --resolve "$FQDN:$P_ES2:127.0.0.1" --cacert certs/sgp26-nist/ci.pem \
		--cert "$pki/opa.pem" --key "$pki/opa.key" -H 'Content-Type: application/json' \
		--data-binary "$body" "https://$FQDN:$P_ES2/gsma/rsp2/es2plus/downloadOrder" \
		>"$tmp/par.$k" ) &
	par_pids+=($!)
done
for p in "${par_pids[@]}"; do wait "$p"; done
okc=$(grep -l '"status":"Executed-Success"' "$tmp"/par.* | wc -l)
exh=$(grep -l '"subjectCode":"8.2.5","reasonCode":"3.7"' "$tmp"/par.* | wc -l)
distinct=$(grep -ho '"iccid":"[0-9]*"' "$tmp"/par.* | sort -u | wc -l)
check "$N parallel downloadOrders on a pool of 5: 5 succeed ($okc), 7 exhausted 8.2.5/3.7 ($exh)" \
	test "$okc" -eq 5 -a "$exh" -eq 7
check "the 5 successes got 5 distinct ICCIDs ($distinct)" test "$distinct" -eq 5
check "sqlite3 CLI: the pool is 5 Allocated, with 5 active orders" test \
	"$(sql "select count(*) from profiles p join orders o on o.id=p.order_id where p.type='par' and p.state=$S_ALLOCATED and o.active=1")" = 5

# ================================================================ operator down, then back
stop_peer
order "\"eid\":\"$EID1\",\"profileType\":\"poolA\""
IC=$got
es2 opa confirmOrder "\"iccid\":\"$IC\",\"releaseFlag\":true"
MC=$(field matchingId)
dl "$tmp/f" --ac "LPA:1\$$FQDN\$$MC"
check "download while the operator endpoint is down" result_is "$tmp/f" '^result: ok'
sleep 1.5
check "its notifications wait in the queue (smdp-admin notifications)" \
	bash -c "$ADMIN --config $CONF notifications | grep -qE '^a \\(OPERATOR-A\\): [1-9][0-9]* undelivered'"
check "and were tried (tries > 0 in SQLite)" \
	test "$(sql "select max(tries) from op_notifications where iccid='$IC' and delivered=0")" -ge 1
start_peer --fail 2 || exit 1
check "endpoint back (first 2 answers 503): every notification arrives, in order" notifs_are "$IC" \
	"1:Executed-Success:-/- 3:Executed-Success:-/- 4:Executed-Success:-/-"
check "queue empty afterwards" test "$(sql "select count(*) from op_notifications where delivered=0")" = 0
arrival=$(grep -o 'call=smdp-[0-9]*' "$tmp/notifs" | sed 's/call=smdp-//' | awk '!s[$0]++')
check "notifications arrived in queue order (functionCallIdentifier increasing)" \
	test "$(echo "$arrival" | tr '\n' ' ')" = "$(echo "$arrival" | sort -n | tr '\n' ' ')"

# ================================================================ restart mid-flow
order "\"eid\":\"$EID1\",\"profileType\":\"poolA\""
IR=$got
es2 opa confirmOrder "\"iccid\":\"$IR\",\"releaseFlag\":false"
MR=$(field matchingId)
kill "$smdp_pid"; wait "$smdp_pid" 2>/dev/null
start_smdp || exit 1
check "after a restart the order is still Confirmed" state_is "$IR" $S_CONFIRMED
es2 opa releaseProfile "\"iccid\":\"$IR\""
check "and releaseProfile works on it" success
"$CLIENT" download --pki certs/sgp26-nist --connect 127.0.0.1:$P_ES9 \
	--ac "LPA:1\$$FQDN\$$MR" --pir-delay 4000 --expect "$tmp/profiles/${FILE_OF[$IR]}.der" \
	>"$tmp/g" 2>"$tmp/g.err" &
cpid=$!
for _ in $(seq 1 100); do [ "$(state_of "$IR")" = $S_DOWNLOADED ] && break; sleep 0.05; done
check "BPP delivered (Downloaded) before the crash" state_is "$IR" $S_DOWNLOADED
# the crash comes after the two notifications so far were delivered and
# recorded: a crash between the two would repeat one (at least once)
for _ in $(seq 1 30); do
	[ "$(sql "select count(*) from op_notifications where iccid='$IR' and delivered=0")" = 0 ] &&
		[ "$(notifs_for "$IR" | wc -l)" -ge 2 ] && break
	sleep 0.1
done
kill -9 "$smdp_pid"; wait "$smdp_pid" 2>/dev/null
start_smdp || exit 1
wait "$cpid"
check "the PIR sent after the crash and restart completes the download" \
	result_is "$tmp/g" "^result: ok .*iccid=$IR .*match=yes"
check "profile Installed after the restart" state_is "$IR" $S_INSTALLED
check "operator told of all three points across the crash" notifs_are "$IR" \
	"1:Executed-Success:-/- 3:Executed-Success:-/- 4:Executed-Success:-/-"

# ================================================================ admin view
admin list --type poolA >"$tmp/list"
check "smdp-admin list shows states from the same store" \
	grep -qE "^$I1 +Installed +poolA +p1 +$EID1 +$M1\$" "$tmp/list"
admin ac "$I9" >"$tmp/ac"; rc=$?
check "smdp-admin ac of an order in Error still shows its activation code" \
	grep -qx "LPA:1\$$FQDN\$$M9" "$tmp/ac"
admin release "$I1" >"$tmp/rel"; rc=$?
check "smdp-admin applies the same rules (release of Installed -> exit 2, 8.2.1/3.5)" \
	bash -c "[ $rc -eq 2 ] && grep -q '^error: 8.2.1/3.5' $tmp/rel"

kill "$smdp_pid"; wait "$smdp_pid" 2>/dev/null; smdp_pid=
stop_peer
check "no sanitizer report in the server logs" \
	bash -c "! grep -l -E 'Sanitizer|runtime error' $tmp/smdp*.log $tmp/peer.log"
check "no bad request reached the operator endpoint" bash -c "! grep -q 'bad-request\|ts=bad\|cert=no' $tmp/notifs"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
