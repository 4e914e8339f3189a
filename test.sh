#!/usr/bin/env bash
# The one command that checks everything: installs the interop tools if
# they are missing and it can (root + apt-get), then gofmt, go vet,
# staticcheck and every test (unit, protocol, crash, interop) with -race.
#
#   ./test.sh                 everything
#   ./test.sh --install-only  only install the tools
#   ./test.sh --fuzz-only     only the bounded fuzzing step
#
# YIZHAN_INTEROP=1 is set for the tests, so a missing swaks, curl,
# python3, mbsync (isync) or postfix fails the interop tests instead of
# skipping them. The binary the end-to-end tests start is built with
# $YIZHAN_TEST_BUILDFLAGS (default -race; set it to "" for a plain build).
#
# Last, bounded fuzzing: the tests above only replay the fuzz targets'
# seeds and corpora (testdata/fuzz); here $YIZHAN_FUZZ_TARGETS fuzz targets
# (default 6, or "all") each fuzz for $YIZHAN_FUZZTIME (default 20s). The
# subset rotates by the day (UTC), so consecutive daily runs cover every
# target. A crasher fails the run; Go writes it to the target's
# testdata/fuzz/FuzzName/ directory, which the output names.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

STATICCHECK_VERSION=2026.2.2
APT_PACKAGES=(swaks curl python3 isync postfix ca-certificates libnet-ssleay-perl libio-socket-ssl-perl)

step() { printf '\n==> %s\n' "$*" >&2; }

install_tools() {
	local missing=()
	local tool
	for tool in swaks curl python3 mbsync; do
		command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
	done
	# Postfix is run by the interop tests as a private instance (its own
	# config and queue in a temporary directory), never as the system's.
	[ -x /usr/sbin/postfix ] || missing+=(postfix)
	# swaks does TLS through Net::SSLeay / IO::Socket::SSL.
	if command -v swaks >/dev/null 2>&1 && ! swaks --support 2>&1 | grep -q 'TLS supported'; then
		missing+=("swaks TLS support")
	fi
	if ((${#missing[@]})); then
		if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
			step "installing ${APT_PACKAGES[*]} (missing: ${missing[*]})"
			# Postfix: "No configuration" (no main.cf, nothing started),
			# and no service started by the package while installing.
			echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
			local policy=/usr/sbin/policy-rc.d added=""
			if [ ! -e "$policy" ]; then
				printf '#!/bin/sh\nexit 101\n' >"$policy"
				chmod 0755 "$policy"
				added=1
			fi
			apt-get update
			DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${APT_PACKAGES[@]}"
			[ -z "$added" ] || rm -f "$policy"
		else
			step "missing: ${missing[*]}; cannot install them (needs root and apt-get): the interop tests will fail"
		fi
	fi

	PATH="$(go env GOPATH)/bin:$PATH"
	export PATH
	if ! command -v staticcheck >/dev/null 2>&1; then
		step "installing staticcheck"
		go install "honnef.co/go/tools/cmd/staticcheck@$STATICCHECK_VERSION" ||
			go install honnef.co/go/tools/cmd/staticcheck@latest
	fi
}

# fuzz runs a day's subset of the fuzz targets (see the top of the file).
fuzz() {
	local fuzztime="${YIZHAN_FUZZTIME:-20s}" want="${YIZHAN_FUZZ_TARGETS:-6}"
	# "dir name" for every fuzz target, in a stable order.
	local targets=() line
	while IFS= read -r line; do
		targets+=("$line")
	done < <(grep -rEo --include='*_test.go' '^func Fuzz[A-Za-z0-9_]*\(f \*testing\.F\)' . |
		sed -E 's|^\./(.*)/[^/]*:func (Fuzz[A-Za-z0-9_]*).*|\1 \2|' | LC_ALL=C sort)
	local n=${#targets[@]}
	if ((n == 0)); then
		echo "no fuzz targets found" >&2
		return 1
	fi
	local count=$n start=0
	if [ "$want" != all ]; then
		count=$((want < n ? want : n))
		start=$(((($(date -u +%s) / 86400) * count) % n))
	fi
	step "fuzzing $count of $n targets, $fuzztime each (YIZHAN_FUZZ_TARGETS, YIZHAN_FUZZTIME)"
	local failed=() i dir name out
	for ((i = 0; i < count; i++)); do
		read -r dir name <<<"${targets[$(((start + i) % n))]}"
		printf '%s %s\n' "$dir" "$name" >&2
		local try
		for try in 1 2; do
			if out=$(go test -run='^$' -fuzz="^${name}\$" -fuzztime="$fuzztime" "./$dir" 2>&1); then
				break
			fi
			# Go's fuzzing engine itself sometimes gives up on a loaded
			# machine ("context deadline exceeded" with no input written):
			# that is no crasher, so the target gets one more run.
			if ((try == 1)) && ! grep -q 'Failing input written to' <<<"$out" &&
				grep -q 'context deadline exceeded' <<<"$out"; then
				echo "  $name: the fuzzing engine timed out without a crasher; once more" >&2
				continue
			fi
			printf '%s\n' "$out" | tail -n 40 >&2
			# Go names the input relative to the package directory.
			failed+=("$name in ./$dir: ./$dir/$(printf '%s\n' "$out" | sed -n 's/.*Failing input written to \(.*\)/\1/p' | head -n 1)")
			break
		done
	done
	if ((${#failed[@]})); then
		printf '\nfuzzing found crashers (add the input to the fix as a regression seed):\n' >&2
		printf '  %s\n' "${failed[@]}" >&2
		return 1
	fi
}

install_tools
if [ "${1:-}" = "--install-only" ]; then
	exit 0
fi
if [ "${1:-}" = "--fuzz-only" ]; then
	fuzz
	exit
fi

step "gofmt -l"
unformatted=$(gofmt -l .)
if [ -n "$unformatted" ]; then
	printf 'not gofmt-formatted:\n%s\n' "$unformatted" >&2
	exit 1
fi

step "go vet ./..."
go vet ./...

step "staticcheck ./..."
staticcheck ./...

# The end-to-end tests (test/...) build the server binary with -race too,
# so a data race under real clients fails them.
export YIZHAN_TEST_BUILDFLAGS="${YIZHAN_TEST_BUILDFLAGS--race}"
step "go test -race ./... (YIZHAN_INTEROP=1, server built with '$YIZHAN_TEST_BUILDFLAGS')"
YIZHAN_INTEROP=1 go test -race -count=1 -timeout 20m ./...

fuzz

step "all checks passed"
