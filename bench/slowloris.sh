#!/usr/bin/env bash
# slowloris.sh — issue 11 item 2's figure: connections a slow-client flood
# holds per listener, and the latency of normal clients meanwhile (an SMTP
# transaction and an IMAP login, each on a fresh connection from 127.0.0.1).
# The flood opens CONNS connections to each of the smtp and imap listeners
# from SOURCES loopback addresses in distinct /24s and sends one byte every
# 10 s on each (yizhan-load slowloris); Linux only (all of 127/8 answers).
#   env: CONNS=2048 SOURCES=18 SETTLE=20s HOLD=60s (seconds or minutes) BIN=<yizhan binary to
#        test; default: built from this tree> PROBE=same|other (time the
#        normal clients on the flooded listeners, or on submission and imaps)
#        EXTRA="" (more [limits] lines)
# Output: one key=value line, also appended to bench/results/<date>-slowloris.txt
set -euo pipefail
shopt -s inherit_errexit
cd "$(dirname "$0")/.."
CONNS=${CONNS:-2048}; SOURCES=${SOURCES:-18}; SETTLE=${SETTLE:-20s}; HOLD=${HOLD:-60s}
PROBE=${PROBE:-same}; EXTRA=${EXTRA:-}
work=$(mktemp -d /tmp/yizhan-slowloris.XXXX)
if [ -z "${BIN:-}" ]; then
  go build -o "$work/yizhan" ./cmd/yizhan
  BIN="$work/yizhan"
fi
go build -o "$work/yizhan-load" ./cmd/yizhan-load
CONFIG="$work/yizhan.toml"
cat > "$CONFIG" <<TOML
hostname = "mail.example.test"
data_dir = "$work/data"
[listen]
smtp = "127.0.0.1:4725"
submission = "127.0.0.1:4787"
submissions = ""
imap = "127.0.0.1:4743"
imaps = "127.0.0.1:4793"
pop3 = ""
pop3s = ""
http = ""
[limits]
$EXTRA
[log]
level = "error"
TOML
"$BIN" --config "$CONFIG" domain add example.test >/dev/null
echo "slowloris-pw" > "$work/pw"
"$BIN" --config "$CONFIG" user add alice@example.test --password-stdin < "$work/pw" >/dev/null
"$BIN" --config "$CONFIG" serve >"$work/stdout" 2>"$work/stderr" &
PID=$!
trap 'kill $PID 2>/dev/null || true; wait $PID 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 100); do grep -qs "^listening imaps" "$work/stdout" && break; sleep 0.1; done
if ! kill -0 $PID 2>/dev/null; then cat "$work/stderr" >&2; exit 1; fi
sources=$(seq -s, -f "127.0.%g.1" 1 "$SOURCES")
if [ "$PROBE" = same ]; then
  probe=(--smtp-addr 127.0.0.1:4725 --imap-addr 127.0.0.1:4743 --starttls)
else
  probe=(--smtp-addr 127.0.0.1:4787 --smtp-tls starttls --smtp-user alice@example.test --smtp-password slowloris-pw
         --from alice@example.test --imap-addr 127.0.0.1:4793)
fi
mkdir -p bench/results
out="bench/results/$(date +%Y%m%d)-slowloris.txt"
{
  echo "# $(date -Is) $(uname -srm) $(nproc) cores; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2); load $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "# BIN=$BIN CONNS=$CONNS SOURCES=$SOURCES SETTLE=$SETTLE HOLD=$HOLD PROBE=$PROBE EXTRA=$EXTRA"
} | tee -a "$out"
rss0=$(awk '/VmRSS/ {print $2}' /proc/$PID/status)
cpu() { awk '{print $14 + $15}' /proc/$1/stat; }  # utime + stime, in clock ticks
secs() { awk -v d="$1" 'BEGIN {n = d + 0; if (d ~ /m$/) n *= 60; print n}'; }
cpu0=$(cpu $PID)
# The flood and the timed clients run in two processes, as an attacker's
# and users' would: in one process the flood's thousands of goroutines
# delay the timing itself.
set +e
"$work/yizhan-load" slowloris --flood 127.0.0.1:4725 --flood 127.0.0.1:4743 -c "$CONNS" --sources "$sources" \
  --settle "$SETTLE" --hold "$(( $(secs "$HOLD") + 5 ))s" > "$work/flood" 2> "$work/flood-errors" &
fpid=$!
sleep "$(secs "$SETTLE")"
"$work/yizhan-load" slowloris --hold "$HOLD" --user alice@example.test --password-file "$work/pw" --size 2048 \
  "${probe[@]}" > "$work/result" 2> "$work/errors" &
lpid=$!
rssmax=$rss0
fcpu=0
while kill -0 $fpid 2>/dev/null; do
  r=$(awk '/VmRSS/ {print $2}' /proc/$PID/status); [ "$r" -gt "$rssmax" ] && rssmax=$r
  fcpu=$(cpu $fpid 2>/dev/null || echo "$fcpu")
  sleep 1
done
cpu1=$(cpu $PID)
wait $lpid; rc=$?
wait $fpid
set -e
tail -q -n 5 "$work/errors" "$work/flood-errors" >&2
echo "$(cat "$work/flood") $(cat "$work/result") server_rss_start_mb=$((rss0 / 1024)) server_rss_max_mb=$((rssmax / 1024)) server_cpu_s=$(awk -v a=$cpu0 -v b=$cpu1 -v hz=$(getconf CLK_TCK) 'BEGIN {printf "%.1f", (b - a) / hz}') flood_cpu_s=$(awk -v a=$fcpu -v hz=$(getconf CLK_TCK) 'BEGIN {printf "%.1f", a / hz}') exit=$rc load=$(cut -d' ' -f1 /proc/loadavg)" | tee -a "$out"
