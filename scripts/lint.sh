#!/usr/bin/env bash
# Grep gates for calls the project bans: unbounded string functions, and
# memcmp anywhere in crypto/ or keyring/ (secrets compare in constant time
# through CRYPTO_memcmp / crypto_ct_equal); and the agent's layering
# (scripts/check-layers.sh).
set -uo pipefail
cd "$(dirname "$0")/.."
status=0
src=$(git ls-files '*.c' '*.h')
if grep -nE '\b(strcpy|strcat|sprintf|vsprintf|gets)\s*\(' $src; then
	echo "lint: banned unbounded string call above" >&2
	status=1
fi
if grep -nE '\bmemcmp\s*\(' $(git ls-files 'crypto/*.c' 'keyring/*.c'); then
	echo "lint: memcmp in crypto/ or keyring/; use crypto_ct_equal" >&2
	status=1
fi
if grep -nE '\b(rand|random|srand)\s*\(' $src; then
	echo "lint: libc rand(); use crypto_random" >&2
	status=1
fi
# The agent's parts include only the parts below them (agent/internal.h).
scripts/check-layers.sh || status=1
[ "$status" -eq 0 ] && echo "lint: clean"
exit $status
