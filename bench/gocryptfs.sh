#!/usr/bin/env bash
# gocryptfs.sh RESULTS SRC MIB RUNS WORKDIR - the gocryptfs reference of
# `make bench`: sequential write (dd, fsync at the end) and read of MIB MiB
# through a gocryptfs mount whose cipher dir and mount point sit on a tmpfs
# this script mounts and removes.  The read happens after a remount so no
# page of the file is still cached by the kernel.  Appends
# `gocryptfs.write.mbs ...` and `gocryptfs.read.mbs ...` (MB = 10^6 bytes).
set -euo pipefail
RES=$1 SRC=$2 MIB=$3 RUNS=$4 W=$5
D="$W/gocryptfs-tmpfs"
mkdir -p "$D"
mount -t tmpfs -o size=$((MIB * 2 + 256))m,mode=0700 bench-gocryptfs "$D"
cleanup() {
	fusermount3 -u "$D/plain" 2>/dev/null || true
	umount "$D" 2>/dev/null || umount -l "$D" 2>/dev/null || true
	rmdir "$D" 2>/dev/null || true
}
trap cleanup EXIT
mkdir "$D/cipher" "$D/plain"
# A benchmark volume's password: throwaway, on the tmpfs that dies below.
echo "bench-$$-$RANDOM" >"$D/pass"
gocryptfs -init -q -scryptn 10 -passfile "$D/pass" "$D/cipher" >/dev/null
echo "gocryptfs.version $(gocryptfs -version | head -1 | awk '{ print $2 }' | tr -d ';')" >>"$RES"

now() { date +%s.%N; }
mbs() { echo "$1 $2 $3" | awk '{ printf "%.1f", $1 / 1e6 / ($3 - $2) }'; }
size=$((MIB << 20))
w=() r=()
for ((i = 0; i < RUNS; i++)); do
	gocryptfs -q -nosyslog -passfile "$D/pass" "$D/cipher" "$D/plain"
	t0=$(now)
	dd if="$SRC" of="$D/plain/big" bs=1M count="$MIB" iflag=fullblock conv=fsync status=none
	t1=$(now)
	fusermount3 -u "$D/plain"
	gocryptfs -q -nosyslog -passfile "$D/pass" "$D/cipher" "$D/plain"
	[ "$(stat -c %s "$D/plain/big")" -eq "$size" ] || { echo "gocryptfs.sh: size" >&2; exit 1; }
	t2=$(now)
	dd if="$D/plain/big" of=/dev/null bs=1M status=none
	t3=$(now)
	rm "$D/plain/big"
	fusermount3 -u "$D/plain"
	w+=("$(mbs "$size" "$t0" "$t1")")
	r+=("$(mbs "$size" "$t2" "$t3")")
done
echo "gocryptfs.write.mbs ${w[*]}" >>"$RES"
echo "gocryptfs.read.mbs ${r[*]}" >>"$RES"
