#!/usr/bin/env bash
# Makes a development key pair for SMART Backend Services (the FHIR destination's
# `private_key_jwt` client assertion) and the public JWKS to register with the authorization
# server. Never use these in production. Writes into the directory this script lives in:
#   smart-rs384.key   RSA 2048 private key, PKCS#8 PEM   (algorithm RS384)
#   smart-es384.key   P-384 private key, PKCS#8 PEM      (algorithm ES384)
#   smart-jwks.json   the two public keys as a JWKS, kids "ihub-rs384" and "ihub-es384"
# Existing files are kept unless --force is given.
#
# Usage: certs/make-smart-keys.sh [--force]
set -euo pipefail

out="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
force=false
case "${1:-}" in
    "") ;;
    --force) force=true ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "error: unknown argument: $1 (try --help)" >&2; exit 2 ;;
esac
command -v openssl >/dev/null || { echo "error: openssl is not installed" >&2; exit 1; }
for f in smart-rs384.key smart-es384.key smart-jwks.json; do
    if ! $force && [[ -e "$out/$f" ]]; then
        echo "error: $out/$f exists; use --force to replace the SMART development keys" >&2
        exit 1
    fi
done

b64url() { base64 -w0 | tr '+/' '-_' | tr -d '='; }
(umask 077
 openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$out/smart-rs384.key" 2>/dev/null
 openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out "$out/smart-es384.key")

# Hex to bytes and back with coreutils only (no xxd).
unhex() { printf '%b' "$(sed 's/../\\x&/g')"; }
hex() { od -An -v -tx1 | tr -d ' \n'; }
# RSA: n is the modulus; e is 65537 (AQAB), openssl's default.
n="$(openssl rsa -in "$out/smart-rs384.key" -noout -modulus | cut -d= -f2 | unhex | b64url)"
# EC: the uncompressed point 04||x||y is the last 97 bytes of the DER public key.
point="$(openssl pkey -in "$out/smart-es384.key" -pubout -outform DER | tail -c 97 | hex)"
x="$(printf '%s' "${point:2:96}" | unhex | b64url)"
y="$(printf '%s' "${point:98:96}" | unhex | b64url)"
cat > "$out/smart-jwks.json" <<EOF
{"keys": [
  {"kty": "RSA", "kid": "ihub-rs384", "alg": "RS384", "use": "sig", "e": "AQAB", "n": "$n"},
  {"kty": "EC", "kid": "ihub-es384", "alg": "ES384", "use": "sig", "crv": "P-384", "x": "$x", "y": "$y"}
]}
EOF
echo "wrote $out/smart-rs384.key, $out/smart-es384.key and $out/smart-jwks.json (register the JWKS with the authorization server)"
