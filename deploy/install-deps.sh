#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Installs what building (and, with --test, testing) xtap needs on Debian 12,
# from Debian's packages only. Idempotent: installs only what is missing.
set -euo pipefail

build_pkgs=(make gcc git clang llvm pkg-config bpftool libbpf-dev libelf-dev zlib1g-dev
	libcurl4-openssl-dev libjansson-dev)
# yamllint, shellcheck, systemd (systemd-analyze): tests/deploy/run's checks
# bash-completion, groff-base: test_cli checks the completion and the man page
# valgrind: test_valgrind; libssl-dev: test_tls links a static OpenSSL server
# libclang-rt-dev: libFuzzer for make fuzz (clang only recommends it)
test_pkgs=(libcmocka-dev nginx python3 golang-go curl iproute2 procps openssl bash-completion
	groff-base yamllint shellcheck systemd valgrind
	libssl-dev libclang-rt-dev)
# tools that may already come from elsewhere (a node from nodesource, a Go tarball)
declare -A test_cmds=([node]=nodejs [npm]=npm [go]=golang-go [curl]=curl)

want=("${build_pkgs[@]}")
if [ "${1:-}" = --test ]; then
	want+=("${test_pkgs[@]}")
fi

missing=()
for p in "${want[@]}"; do
	if [ "$p" = golang-go ] && command -v go >/dev/null; then
		continue
	fi
	if [ "$p" = nginx ] && command -v nginx >/dev/null; then
		continue
	fi
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ "${1:-}" = --test ]; then
	for c in "${!test_cmds[@]}"; do
		command -v "$c" >/dev/null || missing+=("${test_cmds[$c]}")
	done
fi

if [ "${#missing[@]}" -eq 0 ]; then
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "xtap: missing packages: ${missing[*]} — run as root (sudo) to install them" >&2
	exit 1
fi
echo "xtap: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
