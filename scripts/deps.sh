#!/usr/bin/env bash
# Installs the Debian packages sealbox builds and tests with, only when
# something is missing (idempotent: a second run installs nothing).
set -euo pipefail

pkgs_needed=()
need_pc() { pkg-config --exists "$1" 2>/dev/null || pkgs_needed+=("$2"); }
need_bin() { command -v "$1" >/dev/null 2>&1 || pkgs_needed+=("$2"); }

need_bin pkg-config pkg-config
need_bin gcc gcc
need_bin make make
if command -v pkg-config >/dev/null 2>&1; then
	need_pc fuse3 libfuse3-dev
	need_pc openssl libssl-dev
	need_pc libsecret-1 libsecret-1-dev
	need_pc libevent_openssl libevent-dev
	need_pc sqlite3 libsqlite3-dev
	need_pc cmocka libcmocka-dev
	need_pc libpq libpq-dev
else
	pkgs_needed+=(libfuse3-dev libssl-dev libsecret-1-dev libevent-dev libsqlite3-dev libcmocka-dev
	    libpq-dev)
fi
need_bin fusermount3 fuse3
need_bin dbus-run-session dbus
need_bin dbus-daemon dbus
need_bin gnome-keyring-daemon gnome-keyring
need_bin secret-tool libsecret-tools
need_bin getfattr attr
need_bin rsync rsync
need_bin openssl openssl
need_bin python3 python3
need_bin xxd xxd
# Issue 13's watchers and mail clients, driven for real by the watch_* and
# maildir_* cases: inotifywait, notmuch, neomutt in tmux.
need_bin inotifywait inotify-tools
need_bin notmuch notmuch
need_bin neomutt neomutt
need_bin tmux tmux
need_bin setpriv util-linux
# Issue 13's file-tool cases drive the real tools (tests/integration/outbox_*.sh):
# editors (nano in tmux), git for trees, sqlite3 for its side files.
need_bin vim vim
need_bin nano nano
need_bin emacs emacs-nox
need_bin git git
need_bin sqlite3 sqlite3
# The systemd units are checked with systemd-analyze verify, the man pages
# with mandoc -Tlint and rendered with man -l (tests/integration/units_verify.sh).
need_bin systemd-analyze systemd
need_bin mandoc mandoc
need_bin man man-db
# mailbox_batch_kill9 counts the receiving mount's fsyncs with strace.
need_bin strace strace
# The cluster tests start a real PostgreSQL 15 server (tests/lib/pg.sh).
[ -x /usr/lib/postgresql/15/bin/postgres ] || pkgs_needed+=(postgresql)
# codec_cli opens CLI-sealed payloads with the independent Python
# implementation (tests/vectors/pyopen.py), on Debian's python3-cryptography.
/usr/bin/python3 -c 'import cryptography' >/dev/null 2>&1 || pkgs_needed+=(python3-cryptography)

if [ "${#pkgs_needed[@]}" -eq 0 ]; then
	exit 0
fi
# De-duplicate while keeping order.
mapfile -t pkgs_needed < <(printf '%s\n' "${pkgs_needed[@]}" | awk '!seen[$0]++')
echo "deps: installing ${pkgs_needed[*]}" >&2
if [ "$(id -u)" -ne 0 ]; then
	echo "deps: missing packages and not root; run: sudo apt-get install ${pkgs_needed[*]}" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${pkgs_needed[@]}" >/dev/null
