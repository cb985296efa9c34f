#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# Cut the kernel's BTF (.BTF section) out of a vmlinuz and, optionally, dump it
# as a C header. Used for vmlinux/arm64/vmlinux.h, which cannot come from
# /sys/kernel/btf/vmlinux on an x86 build machine: an arm64 vmlinuz is a raw
# (sometimes gzip'ed) Image, not an ELF file, so bpftool cannot read it
# directly, but the BTF blob is stored in it verbatim.
#
#   extract-btf.sh VMLINUZ BLOB [HEADER]
#
# VMLINUZ  a raw arm64 Image, a gzip'ed one, or an ELF vmlinux
# BLOB     where to write the raw BTF
# HEADER   if given, `bpftool btf dump file BLOB format c` is written there
#
# Example (see vmlinux/README.md for the package used):
#   apt-get download linux-image-6.1.0-50-arm64-unsigned:arm64
#   dpkg-deb --fsys-tarfile linux-image-*.deb | tar -x ./boot/
#   vmlinux/extract-btf.sh boot/vmlinuz-6.1.0-50-arm64 /tmp/btf vmlinux/arm64/vmlinux.h

set -euo pipefail

die() {
	echo "extract-btf: $*" >&2
	exit 1
}

[[ $# -eq 2 || $# -eq 3 ]] || die "usage: $0 VMLINUZ BLOB [HEADER]"
in=$1
blob=$2
header=${3:-}
[[ -r $in ]] || die "cannot read '$in'"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Little-endian u32 at byte offset $2 of file $1.
u32() {
	od -An -t u4 --endian=little -j "$2" -N 4 "$1" | tr -d ' '
}

magic=$(od -An -t x1 -N 4 "$in" | tr -d ' ')
case $magic in
1f8b*)
	gzip -dc "$in" >"$tmp/image" || die "gunzip of '$in' failed"
	img=$tmp/image
	;;
7f454c46)
	# An ELF vmlinux (e.g. from a -dbg package): the .BTF section is the
	# blob we want, no searching needed.
	objcopy -O binary --only-section=.BTF "$in" "$blob" ||
		die "objcopy could not extract .BTF from '$in'"
	img=
	;;
*)
	img=$in
	;;
esac

if [[ -n $img ]]; then
	size=$(stat -c %s "$img")
	# BTF header: magic 0xeb9f (LE bytes 9f eb), version 1, flags 0,
	# hdr_len 24, then type_off, type_len, str_off, str_len. Every
	# candidate is checked for a self-consistent layout that fits in the
	# file, and the largest wins: the vmlinux BTF dwarfs anything else
	# that happens to look like a header.
	best_off=
	best_len=0
	while IFS=: read -r off _; do
		type_off=$(u32 "$img" $((off + 8)))
		type_len=$(u32 "$img" $((off + 12)))
		str_off=$(u32 "$img" $((off + 16)))
		str_len=$(u32 "$img" $((off + 20)))
		[[ -n $str_len ]] || continue
		((type_off == 0 && str_off == type_len && type_len > 0 && str_len > 0)) || continue
		len=$((24 + str_off + str_len))
		((off + len <= size)) || continue
		if ((len > best_len)); then
			best_off=$off
			best_len=$len
		fi
	done < <(LC_ALL=C grep -obUaP '\x9f\xeb\x01\x00\x18\x00\x00\x00' "$img" || true)

	[[ -n $best_off ]] || die "no BTF header found in '$in' (CONFIG_DEBUG_INFO_BTF=y?)"
	dd if="$img" of="$blob" bs=1M iflag=skip_bytes,count_bytes \
		skip="$best_off" count="$best_len" status=none
	echo "extract-btf: $best_len bytes of BTF at offset $best_off" >&2
fi

# bpftool parses every type: a truncated or misaligned cut fails here.
bpftool btf dump file "$blob" format raw >/dev/null || die "'$blob' is not valid BTF"

if [[ -n $header ]]; then
	bpftool btf dump file "$blob" format c >"$tmp/vmlinux.h"
	mv "$tmp/vmlinux.h" "$header"
	echo "extract-btf: wrote $header" >&2
fi
