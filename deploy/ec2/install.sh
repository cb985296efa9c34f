#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Installs xtap as a systemd service (EC2 host mode):
#   $PREFIX/bin/xtap                the agent (PREFIX=/usr/local)
#   $UNITDIR/xtap.service           the unit (UNITDIR=$SYSCONFDIR/systemd/system)
#   $SYSCONFDIR/xtap/xtap.conf      its settings (SYSCONFDIR=/etc), kept if present
# all under $DESTDIR when it is set (a staging tree: nothing is started).
#   deploy/ec2/install.sh [BINARY]  (default: build/xtap; run make first)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
bin=${1:-$here/../../build/xtap}
prefix=${PREFIX:-/usr/local}
sysconfdir=${SYSCONFDIR:-/etc}
unitdir=${UNITDIR:-$sysconfdir/systemd/system}
dest=${DESTDIR:-}

die() {
	echo "install.sh: $*" >&2
	exit 1
}

if [ ! -f "$bin" ] || [ ! -x "$bin" ]; then
	die "$bin: no such executable (run make first, or name the binary)"
fi
for d in "$prefix" "$sysconfdir" "$unitdir"; do
	case $d in
	/*[\|\&\\]* | *[[:space:]]*) die "'$d': paths with spaces, |, & or \\ are not supported" ;;
	/*) ;;
	*) die "'$d': not an absolute path" ;;
	esac
done
if [ -z "$dest" ] && [ "$(id -u)" -ne 0 ]; then
	die "run as root (sudo), or set DESTDIR to stage the files"
fi

install -d -m 0755 "$dest$prefix/bin" "$dest$unitdir" "$dest$sysconfdir/xtap"
install -m 0755 "$bin" "$dest$prefix/bin/xtap"

# the unit names the paths chosen here
unit=$(mktemp)
trap 'rm -f "$unit"' EXIT
sed -e "s|/usr/local/bin/xtap|$prefix/bin/xtap|g" \
	-e "s|/etc/xtap/|$sysconfdir/xtap/|g" \
	-e "s|/etc/default/xtap|$sysconfdir/default/xtap|g" \
	"$here/xtap.service" >"$unit"
install -m 0644 "$unit" "$dest$unitdir/xtap.service"

# an edited configuration is the administrator's: never overwritten
if [ -e "$dest$sysconfdir/xtap/xtap.conf" ]; then
	echo "install.sh: kept $sysconfdir/xtap/xtap.conf"
else
	install -m 0644 "$here/xtap.conf" "$dest$sysconfdir/xtap/xtap.conf"
fi

echo "install.sh: installed $prefix/bin/xtap, $unitdir/xtap.service${dest:+ under $dest}"
if [ -z "$dest" ] && [ -d /run/systemd/system ]; then
	systemctl daemon-reload
	echo "install.sh: start it with: systemctl enable --now xtap"
fi
