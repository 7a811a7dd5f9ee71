#!/usr/bin/env bash
# Keeps the agent's cut (agent/internal.h): data flows one way, so each part
# of agent/ may include only the headers of the parts below it.
#
#   agent.c                  may include every part
#   view/                    send/, recv/, msgstore/, the building blocks
#   send/                    the building blocks only
#   recv/                    msgstore/ and the building blocks
#   msgstore/                the building blocks only
#   building blocks          (agent/*.c|h but agent.c) no part at all
#
# And every .c file's object name is unique in its archive (ar keeps one
# member per name).  Run by scripts/lint.sh; exit 1 with one line per
# breach.
set -uo pipefail
cd "$(dirname "$0")/.."
status=0

# forbid FILES... -- PATTERN WHY: no '#include' in FILES may match PATTERN.
forbid() {
	local why=$1 pat=$2; shift 2
	[ "$#" -gt 0 ] || return 0
	local hits
	if hits=$(grep -nE "^[[:space:]]*#[[:space:]]*include[[:space:]]*\"[^\"]*($pat)\"" "$@"); then
		printf '%s\n' "$hits" | sed "s|\$|   <- $why|" >&2
		status=1
	fi
}

files() { git ls-files "$@"; }

SEND='(^|/)send/[^"]*|(^|/)outbox\.h'
RECV='(^|/)recv/[^"]*|(^|/)inbox_int\.h'
STORE='(^|/)msgstore/[^"]*'
VIEW='(^|/)view/[^"]*'

# shellcheck disable=SC2046
forbid "msgstore/ is below every part" "$SEND|$RECV|$VIEW" $(files 'agent/msgstore/*')
# shellcheck disable=SC2046
forbid "recv/ never uses the send side or the views" "$SEND|$VIEW" $(files 'agent/recv/*')
# shellcheck disable=SC2046
forbid "send/ never uses the receive side, the store or the views" "$RECV|$STORE|$VIEW" \
	$(files 'agent/send/*')
# shellcheck disable=SC2046
forbid "the building blocks include no part of the agent" "$SEND|$RECV|$STORE|$VIEW" \
	$(files 'agent/*.c' 'agent/*.h' | grep -v -e '^agent/agent\.c$' -e '/.*/')
# Nothing outside agent/ reaches into the parts but the CLI's status (the
# outbox states it counts) and the unit tests.
# shellcheck disable=SC2046
forbid "only agent/ uses the agent's parts" "agent/($SEND|$RECV|$STORE|$VIEW)" \
	$(files 'fs/*' 'client/*' 'relay/*' 'proto/*' 'keyring/*' 'crypto/*' 'common/*')

dups=$(files '*.c' | grep -v -e '/main\.c$' -e '^tests/' -e '^fuzz/' |
	awk -F/ '{ print $1 "/" $NF }' | sort | uniq -d)
if [ -n "$dups" ]; then
	echo "layers: two sources of one archive share an object name: $dups" >&2
	status=1
fi

[ "$status" -eq 0 ] || echo "layers: the agent's cut is broken (see agent/internal.h)" >&2
exit $status
