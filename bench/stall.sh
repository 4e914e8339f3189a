#!/usr/bin/env bash
# stall.sh — issue 11 item 5's attack on memory, against Yizhan: a mailbox of
# MSGS messages of SIZE bytes; STALLED IMAP connections send
# `FETCH 1:* BODY[]` and never read, while one more runs STORE 1:* in a
# loop, for HOLD (yizhan-load imap-stall). The server's RSS is sampled every
# 100 ms: before, peak, at the end; and at the end each stalled connection
# is read to see whether the server had closed it.
#   env: MSGS=20000 SIZE=10240 STALLED=40 HOLD=180s SETTLE=130
#        BIN=path/to/yizhan (default: built from this tree; give an older
#        build to measure it the same way)
#        OUT=bench/results/<date>-stall.txt
# After the fill a SEARCH TEXT makes the full-text indexer finish, and the
# server is restarted, so that neither the APPENDs' garbage nor the
# indexer's work is counted; then one login, SELECT and SEARCH (argon2id's
# 64 MiB, the mailbox index) come before the baseline, as on a server in
# use, and SETTLE seconds (default 130: Go forces a collection every two
# minutes) let the heap goal that argon2id's buffer raised come down, so
# the peak is the attack's. write_timeout is left at its default (2
# minutes): a HOLD above it shows the stalled sessions being ended.
# Output: key=value lines, also appended to OUT.
set -euo pipefail
shopt -s inherit_errexit
cd "$(dirname "$0")/.."
MSGS=${MSGS:-20000}; SIZE=${SIZE:-10240}; STALLED=${STALLED:-40}; HOLD=${HOLD:-180s}
ADDR=127.0.0.1:3794
USER_NAME=alice@example.test
export YIZHAN_LOAD_PASSWORD=secret
mkdir -p bench/results
OUT=${OUT:-bench/results/$(date +%Y%m%d-%H%M%S)-stall.txt}

die() { echo "stall.sh: $*" >&2; exit 1; }
work=$(mktemp -d /tmp/yizhan-stall-bench.XXXX)
PID=""
cleanup() {
  if [[ -n $PID ]]; then kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
go build -o "$work/yizhan-load" ./cmd/yizhan-load
LOAD="$work/yizhan-load"
if [[ -z ${BIN:-} ]]; then
  go build -o "$work/yizhan" ./cmd/yizhan
  BIN="$work/yizhan"
fi
CONFIG="$work/yizhan.toml"
# Only keys every version since the attack was found knows.
cat > "$CONFIG" <<TOML
hostname = "mail.example.test"
data_dir = "$work/data"
[listen]
smtp = ""
submission = ""
submissions = ""
imap = ""
imaps = "$ADDR"
pop3 = ""
pop3s = ""
http = ""
[limits]
min_password_length = 6
[log]
level = "warn"
TOML
"$BIN" --config "$CONFIG" domain add example.test >/dev/null
echo secret | "$BIN" --config "$CONFIG" user add "$USER_NAME" --password-stdin >/dev/null

start() {
  GODEBUG=${SERVER_GODEBUG:-} "$BIN" --config "$CONFIG" serve >"$work/stdout" 2>"$work/stderr" &
  PID=$!
  for _ in $(seq 100); do
    grep -q "^listening imaps" "$work/stdout" && return
    kill -0 "$PID" 2>/dev/null || break
    sleep 0.1
  done
  cat "$work/stderr" >&2
  die "Yizhan is not listening on $ADDR"
}
stop() { kill "$PID"; wait "$PID" 2>/dev/null || true; PID=""; }

probe() { "$LOAD" imap-probe --addr "$ADDR" --user "$USER_NAME" --timeout 10m "$@"; }
start
probe --fill-to "$MSGS" --size "$SIZE" -r 0 >"$work/fill" || die "fill failed: $(cat "$work/fill")"
probe -r 1 >/dev/null || die "the warm-up probe failed"
stop
start
probe -r 1 >/dev/null || die "the warm-up probe failed"
sleep "${SETTLE:-130}"
{
  echo "# $(date -Is) $(uname -srm) $(nproc) cores; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
  echo "# $("$BIN" version 2>/dev/null || echo "$BIN") MSGS=$MSGS SIZE=$SIZE STALLED=$STALLED HOLD=$HOLD"
  echo "# $(grep -o 'messages=[0-9]*' "$work/fill") in INBOX"
} | tee -a "$OUT"
rc=0
"$LOAD" imap-stall --addr "$ADDR" --user "$USER_NAME" --stalled "$STALLED" --hold "$HOLD" --server-pid "$PID" \
  --timeout 10m 2>&1 | tee -a "$OUT" || rc=$?
grep -E "level=(WARN|ERROR)" "$work/stderr" | cut -c1-300 | sort | uniq -c | sort -rn | head -5 | sed 's/^/# server: /' | tee -a "$OUT" || true
[[ -n ${KEEP_STDERR:-} ]] && cp "$work/stderr" "$KEEP_STDERR"
exit "$rc"
