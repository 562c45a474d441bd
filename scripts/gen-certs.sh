#!/usr/bin/env bash
# Generate a cluster CA and per-name certificates for mutual TLS between
# nodes (caf_openssl) and for the operator console.
#
# Every leaf certificate carries extendedKeyUsage serverAuth,clientAuth
# because each node both accepts and initiates TLS connections with the
# same certificate.
set -euo pipefail

prog=$(basename "$0")

usage() {
    cat <<EOF
Usage: $prog [--out DIR] [--days N] [--force] [--san NAME]... NAME...

Create a cluster CA (DIR/ca.pem, DIR/ca-key.pem; reused if present) and, for
each NAME, a certificate DIR/NAME.pem with key DIR/NAME-key.pem signed by it.
Keys are EC P-256; private keys are written with mode 0600.

Each certificate has CN=NAME, extendedKeyUsage serverAuth,clientAuth and
subjectAltName IP:127.0.0.1, DNS:localhost, DNS:NAME plus any --san entries.

Options:
  --out DIR    output directory (default: certs)
  --days N     validity of new certificates in days (default: 825); a new CA gets
               max(N, 3650) days
  --san NAME   extra subjectAltName for every certificate made in this run;
               an IPv4/IPv6 address becomes IP:, anything else DNS:.
               "IP:..." / "DNS:..." prefixes are passed through. Repeatable.
  --force      re-issue certificates that already exist (the CA is kept;
               delete ca.pem and ca-key.pem to replace it)
  -h, --help   show this help

Examples:
  $prog --out certs node1 node2 operator
  $prog --out certs --san 10.0.0.5 --san node3.cluster.local node3
EOF
}

die() {
    echo "$prog: error: $*" >&2
    exit 1
}

out=certs
days=825
ca_days=3650
force=0
names=()
extra_sans=()

while [[ $# -gt 0 ]]; do
    case $1 in
        -h|--help) usage; exit 0 ;;
        --out)
            [[ $# -ge 2 && -n $2 ]] || die "--out needs a directory"
            out=$2; shift 2 ;;
        --out=*) out=${1#--out=}; shift ;;
        --days)
            [[ $# -ge 2 ]] || die "--days needs a number"
            days=$2; shift 2 ;;
        --days=*) days=${1#--days=}; shift ;;
        --san)
            [[ $# -ge 2 && -n $2 ]] || die "--san needs a name or address"
            extra_sans+=("$2"); shift 2 ;;
        --san=*) extra_sans+=("${1#--san=}"); shift ;;
        --force) force=1; shift ;;
        --) shift; names+=("$@"); break ;;
        -*) die "unknown option '$1' (see --help)" ;;
        *) names+=("$1"); shift ;;
    esac
done

[[ ${#names[@]} -gt 0 ]] || { usage >&2; die "no certificate names given"; }
[[ $days =~ ^[1-9][0-9]{0,5}$ ]] || die "--days must be a positive integer, got '$days'"
# A new CA must not expire before the certificates it signs.
(( days <= ca_days )) || ca_days=$days
command -v openssl >/dev/null 2>&1 || die "openssl not found in PATH"

for name in "${names[@]}"; do
    # Names become file names and CNs: keep them to a safe character set.
    [[ $name =~ ^[A-Za-z0-9][A-Za-z0-9._-]*$ ]] \
        || die "invalid name '$name' (allowed: letters, digits, '.', '_', '-'; must not start with a punctuation character)"
    [[ $name != ca && $name != ca-key ]] || die "'$name' is reserved for the CA files"
done

# Turn an extra name into an subjectAltName entry.
san_entry() {
    local v=$1
    case $v in
        IP:*|DNS:*) echo "$v" ;;
        *)
            if [[ $v =~ ^[0-9]{1,3}(\.[0-9]{1,3}){3}$ || $v == *:* ]]; then
                echo "IP:$v"
            else
                echo "DNS:$v"
            fi ;;
    esac
}

mkdir -p -- "$out" || die "cannot create output directory '$out'"
[[ -w $out ]] || die "output directory '$out' is not writable"

ca_cert=$out/ca.pem
ca_key=$out/ca-key.pem

tmp=$(mktemp -d)
trap 'rm -rf -- "$tmp"' EXIT

# Keys must never be world-readable, not even briefly.
umask 077

if [[ -f $ca_cert && -f $ca_key ]]; then
    echo "using existing CA $ca_cert"
elif [[ -e $ca_cert || -e $ca_key ]]; then
    die "only one of $ca_cert and $ca_key exists; restore or remove it before continuing"
else
    echo "creating CA $ca_cert"
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
        -out "$tmp/ca-key.pem" 2>"$tmp/err" \
        || die "CA key generation failed: $(cat "$tmp/err")"
    openssl req -new -x509 -sha256 -days "$ca_days" \
        -key "$tmp/ca-key.pem" -out "$tmp/ca.pem" \
        -subj "/O=p2p-orchestrator/CN=p2p-orchestrator cluster CA" \
        -addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" \
        -addext "subjectKeyIdentifier=hash" 2>"$tmp/err" \
        || die "CA certificate creation failed: $(cat "$tmp/err")"
    # Install the pair only once both parts exist, so a failed run leaves
    # nothing half-made behind.
    mv -- "$tmp/ca-key.pem" "$ca_key"
    chmod 600 -- "$ca_key"
    mv -- "$tmp/ca.pem" "$ca_cert"
    chmod 644 -- "$ca_cert"
fi

# Sanity check a reused CA before signing with it.
openssl x509 -in "$ca_cert" -noout 2>/dev/null || die "$ca_cert is not a readable certificate"
openssl pkey -in "$ca_key" -noout 2>/dev/null || die "$ca_key is not a readable private key"

for name in "${names[@]}"; do
    cert=$out/$name.pem
    key=$out/$name-key.pem

    if [[ $force -eq 0 && ( -e $cert || -e $key ) ]]; then
        echo "skipping $name: $cert or $key already exists (use --force to re-issue)"
        continue
    fi

    sans="IP:127.0.0.1,DNS:localhost"
    [[ $name == localhost ]] || sans+=",DNS:$name"
    for s in ${extra_sans[@]+"${extra_sans[@]}"}; do
        sans+=",$(san_entry "$s")"
    done

    cat >"$tmp/$name.ext" <<EOF
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyAgreement
extendedKeyUsage = serverAuth,clientAuth
subjectAltName = $sans
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid,issuer
EOF

    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
        -out "$tmp/$name-key.pem" 2>"$tmp/err" \
        || die "key generation for '$name' failed: $(cat "$tmp/err")"
    openssl req -new -sha256 -key "$tmp/$name-key.pem" \
        -subj "/O=p2p-orchestrator/CN=$name" -out "$tmp/$name.csr" 2>"$tmp/err" \
        || die "CSR creation for '$name' failed: $(cat "$tmp/err")"
    # A random serial per certificate avoids needing a serial file next to the CA.
    openssl x509 -req -sha256 -days "$days" -in "$tmp/$name.csr" \
        -CA "$ca_cert" -CAkey "$ca_key" -set_serial "0x$(openssl rand -hex 16)" \
        -extfile "$tmp/$name.ext" -out "$tmp/$name.pem" 2>"$tmp/err" \
        || die "signing certificate for '$name' failed: $(cat "$tmp/err")"
    openssl verify -CAfile "$ca_cert" "$tmp/$name.pem" >/dev/null 2>"$tmp/err" \
        || die "new certificate for '$name' does not verify: $(cat "$tmp/err")"

    mv -f -- "$tmp/$name-key.pem" "$key"
    chmod 600 -- "$key"
    mv -f -- "$tmp/$name.pem" "$cert"
    chmod 644 -- "$cert"
    echo "created $cert ($sans)"
done
