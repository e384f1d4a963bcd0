#!/usr/bin/env bash
# make-broken.sh - how broken/ was made (run once from the repository root;
# the result is committed, keys and dates included, so that the report of
# `smdp-pki check --now 2027-03-01` on it is the same on every run: see
# ../../smdp/tests/e2e_pki.sh). Running it again makes new keys and dates:
# review the new report line by line before replacing broken.txt.
set -eu
B=${BUILD:-build}
out=test-vectors/check-config/broken
rm -rf "$out"
mkdir -p "$out"
pki() { "$B/smdp-pki" "$@" >/dev/null; }

# good: a clean NIST P-256 hierarchy (what "nothing to report" looks like)
pki init "$out" --name good --curve nist

# alpha (NIST P-256): DPpb with another SM-DP+ OID (start-up error), DPtls
# for another host name, DPauth that expires 14 days after 2027-03-01
pki init "$out" --name alpha --curve nist
pki issue dppb --ci "$out/alpha" --out "$out/alpha/dppb" --oid 2.999.11
pki issue dptls --ci "$out/alpha" --out "$out/alpha/dptls" --fqdn other.example.org
pki issue dpauth --ci "$out/alpha" --out "$out/alpha/dpauth" --key "$out/alpha/dpauth.key.pem" \
	--not-before 2026-01-01 --not-after 2027-03-15

# beta (brainpoolP256r1): DPauth key of another certificate (start-up
# error), DPpb expired on 2027-02-01, no DPtls, and a CI CRL revoking the
# EUM whose nextUpdate has passed
pki init "$out" --name beta --curve brainpool
pki issue dppb --ci "$out/beta" --out "$out/beta/dppb" --key "$out/beta/dppb.key.pem" \
	--not-before 2026-01-01 --not-after 2027-02-01
cp "$out/beta/dppb.key.pem" "$out/beta/dpauth.key.pem"
rm "$out/beta/dptls.der" "$out/beta/dptls.pem" "$out/beta/dptls.key.pem"
pki revoke --ci "$out/beta" --out "$out/beta/ci.crl" --days 7 "$out/beta/euicc/eum.der"

# gamma (NIST P-256): no DPpb at all, no euicc/
pki init "$out" --name gamma --curve nist
rm -r "$out/gamma/dppb."* "$out/gamma/euicc"

# not a CI directory: skipped
mkdir -p "$out/notes"
echo "not a CI directory" >"$out/notes/README"
