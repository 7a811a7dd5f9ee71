#!/usr/bin/env bash
# gpg.sh RESULTS SMALLDIR RUNS WORKDIR - the GnuPG reference of `make bench`:
# sign+encrypt (`gpg --batch -se`, one process per file, as a user would)
# and decrypt of the very files the mailbox benchmark sends, with a
# throwaway GNUPGHOME and a freshly generated key without passphrase.
# Appends `gpg.se.fps ...`, `gpg.d.fps ...` and the key's algorithm.
set -euo pipefail
RES=$1 SMALL=$2 RUNS=$3 W=$4
export GNUPGHOME="$W/gnupg"
mkdir -p -m 700 "$GNUPGHOME"
trap 'gpgconf --kill all >/dev/null 2>&1 || true' EXIT
gpg --batch --passphrase '' --quick-gen-key 'sealbox bench <bench@gpg.example>' \
	default default never 2>"$W/gpg.log"
# pub line: field 3 the key length, field 4 the algorithm (1 RSA, 22 EdDSA).
algo=$(gpg --batch --with-colons --list-keys bench@gpg.example 2>>"$W/gpg.log" |
	awk -F: '$1 == "pub" { print ($4 == 1 ? "rsa" $3 : $4 == 22 ? "ed25519" : "algo" $4 "-" $3) }')
echo "gpg.version $(gpg --version | head -1 | awk '{ print $3 }') ($algo)" >>"$RES"

now() { date +%s.%N; }
rate() { echo "$1 $2 $3" | awk '{ printf "%.2f", $1 / ($3 - $2) }'; }
files=("$SMALL"/*)
n=${#files[@]}
se=() d=()
for ((r = 0; r < RUNS; r++)); do
	rm -rf "$W/enc" "$W/dec"
	mkdir "$W/enc" "$W/dec"
	t0=$(now)
	for f in "${files[@]}"; do
		gpg --batch --yes -q -se -r bench@gpg.example -o "$W/enc/${f##*/}.gpg" "$f" 2>>"$W/gpg.log"
	done
	t1=$(now)
	for f in "${files[@]}"; do
		gpg --batch --yes -q -o "$W/dec/${f##*/}" -d "$W/enc/${f##*/}.gpg" 2>>"$W/gpg.log"
	done
	t2=$(now)
	cmp -s "${files[0]}" "$W/dec/${files[0]##*/}" || { echo "gpg.sh: decrypt mismatch" >&2; exit 1; }
	se+=("$(rate "$n" "$t0" "$t1")")
	d+=("$(rate "$n" "$t1" "$t2")")
done
echo "gpg.se.fps ${se[*]}" >>"$RES"
echo "gpg.d.fps ${d[*]}" >>"$RES"
