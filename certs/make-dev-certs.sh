#!/usr/bin/env bash
# Makes throwaway TLS material for trying MLLP over TLS on one machine. Never use it in
# production. Writes into the directory this script lives in:
#   ca.crt, ca.key          a development certificate authority
#   server.crt, server.key  a server certificate for localhost, 127.0.0.1 and ::1, signed by the CA
#   client.crt, client.key  a client certificate for mutual TLS, signed by the CA
# Keys are ECDSA P-256 in PKCS#8 PEM. Existing files are kept unless --force is given.
#
# Usage: certs/make-dev-certs.sh [--force] [--days N]
set -euo pipefail

out="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
days=825
force=false
while [[ $# -gt 0 ]]; do
    case "$1" in
        --force) force=true ;;
        --days) days="${2:?--days needs a number}"; shift ;;
        -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
        *) echo "error: unknown argument: $1 (try --help)" >&2; exit 2 ;;
    esac
    shift
done

command -v openssl >/dev/null || { echo "error: openssl is not installed" >&2; exit 1; }

files=(ca.crt ca.key server.crt server.key client.crt client.key)
if ! $force; then
    for f in "${files[@]}"; do
        if [[ -e "$out/$f" ]]; then
            echo "error: $out/$f exists; use --force to replace the development certificates" >&2
            exit 1
        fi
    done
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
umask 077  # private keys readable by their owner only

key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

echo "certificate authority"
key "$work/ca.key"
cat > "$work/ca.ext" <<'EXT'
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
EXT
openssl req -new -key "$work/ca.key" -subj "/O=Integration Hub development/CN=ihub dev CA" \
    -out "$work/ca.csr"
openssl x509 -req -in "$work/ca.csr" -signkey "$work/ca.key" -days "$days" -sha256 \
    -extfile "$work/ca.ext" -out "$work/ca.crt" 2>/dev/null

# sign NAME SUBJECT EXTENSIONS: a key and a certificate signed by the CA.
sign() {
    local name="$1" subject="$2" extensions="$3"
    key "$work/$name.key"
    printf '%s\n' "$extensions" > "$work/$name.ext"
    openssl req -new -key "$work/$name.key" -subj "$subject" -out "$work/$name.csr"
    openssl x509 -req -in "$work/$name.csr" -CA "$work/ca.crt" -CAkey "$work/ca.key" \
        -CAcreateserial -CAserial "$work/ca.srl" -days "$days" -sha256 \
        -extfile "$work/$name.ext" -out "$work/$name.crt" 2>/dev/null
}

echo "server certificate (localhost, 127.0.0.1, ::1)"
sign server "/O=Integration Hub development/CN=localhost" "basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1, IP:::1
authorityKeyIdentifier = keyid"

echo "client certificate (mutual TLS)"
sign client "/O=Integration Hub development/CN=ihub-dev-client" "basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectAltName = DNS:ihub-dev-client
authorityKeyIdentifier = keyid"

openssl verify -CAfile "$work/ca.crt" "$work/server.crt" "$work/client.crt" >/dev/null

for f in "${files[@]}"; do
    cp "$work/$f" "$out/$f"
done
chmod 600 "$out"/*.key
chmod 644 "$out"/*.crt
echo "wrote ${files[*]} to $out (valid for $days days)"
