#!/usr/bin/env bash
# A mail client opens the Maildir view (issue 13, point 9): neomutt -R -f
# on a sender's folder, run in tmux; the captured screen's index lists
# the message with its sender and subject, and opening it shows the
# verification header and the body.
here=$(cd "$(dirname "$0")" && pwd); top=${here%/tests/integration*}
[ -n "${SEALBOX_WITH_KEYRING_BUS:-}" ] || exec "$top/scripts/with-keyring" bash "$0" "$@"
source "$top/tests/lib/common.sh"
source "$SB_TOP/tests/lib/mailbox.sh"
command -v neomutt >/dev/null || fail "neomutt not installed (scripts/deps.sh)"
command -v tmux >/dev/null || fail "tmux not installed (scripts/deps.sh)"

mb_alice_to_bob
printf 'Dear Bob,\nthe parcel arrives on Tuesday.\n' >"$O/parcel note.txt"
wait_for_file 20 "$I" "$(mb_inbox_re 'parcel note.txt')" >/dev/null

F="$B/maildir/.alice@example_com"
# A config of our own (nothing from the machine's), no mailcap, no
# sidebar; -R: read-only, as the view is.
cat >"$T/muttrc" <<RC
set mbox_type=Maildir
set folder=$T
set sort=date
set index_format="%4C %-25.25f %s"
set pager_index_lines=0
set wait_key=no
set sidebar_visible=no
unset help
RC
S=sealbox-mutt-$$
tmux -L "$S" new-session -d -x 120 -y 30 \
	"env -i HOME=$T TERM=xterm-256color LANG=C.UTF-8 neomutt -n -F $T/muttrc -R -f '$F'"
on_exit "tmux -L $S kill-server"
screen() { tmux -L "$S" capture-pane -p; }
_shows() { screen | grep -qF -- "$1"; }
wait_until "$(mb_secs 10)" _shows "parcel note.txt" || fail "index does not show the subject: $(screen)"
line=$(screen | grep -F "parcel note.txt")
[[ "$line" =~ ^\ *1\ +alice@example\.com\ +parcel\ note\.txt ]] || fail "index line: '$line'"
tmux -L "$S" send-keys Enter
wait_until "$(mb_secs 10)" _shows "the parcel arrives on Tuesday." || fail "pager: $(screen)"
screen | grep -qF "From: alice@example.com" || fail "pager shows no From: $(screen)"
screen | grep -qF "Subject: parcel note.txt" || fail "pager shows no Subject: $(screen)"
screen | grep -qF "X-Sealbox-Verified: yes; sender alice@example.com; device " || fail "no verification header: $(screen)"
tmux -L "$S" send-keys q q
_ended() { ! tmux -L "$S" has-session 2>/dev/null; }
wait_until "$(mb_secs 10)" _ended || fail "neomutt did not quit: $(screen)"
mb_finish
