#!/usr/bin/env bash
# smtp-intake.sh N SIZE CONC — durable SMTP intake of Yizhan, measured the
# way ../shared/peers/postfix-dovecot/bench-smtp.sh measures Postfix+Dovecot:
#   smtp-source -s CONC -m N -l SIZE -f bench@source.test -t alice@example.test ADDR
# (one new plaintext connection per message, as smtp-source does by default).
# Yizhan answers 250 only after the message is fsynced into alice's INBOX, so
# the run ends when smtp-source exits; the script then checks that all N
# messages are in the store.
#
# Needs a running Yizhan: set PID (its process id), ADDR (its smtp listener)
# and CONFIG (its config file, for the admin commands). bench/run.sh does it.
# Prints one key=value line: msgs_per_s, server_cpu_ms_per_msg, rss_max_mb...
set -euo pipefail
N=${1:?usage: smtp-intake.sh N SIZE CONC}
SIZE=${2:?}
CONC=${3:?}
: "${PID:?PID of yizhan}" "${ADDR:?smtp address}" "${CONFIG:?config file}"
BIN=${BIN:-yizhan}
HZ=$(getconf CLK_TCK)

# LOADGEN=path/to/yizhan-load switches from smtp-source (a new connection
# per message, no pipelining) to the project's load generator (connections
# kept, MAIL/RCPT/DATA pipelined); LOADGEN_ARGS=--chunking makes it send
# each message as one BDAT LAST chunk pipelined with MAIL and RCPT.
load_cmd() {
  if [[ -n ${LOADGEN:-} ]]; then
    echo "$LOADGEN smtp --addr $ADDR -c $CONC -n $N --size $SIZE --from bench@source.test --rcpt alice@example.test ${LOADGEN_ARGS:-}"
  else
    echo "smtp-source -s $CONC -m $N -l $SIZE -f bench@source.test -t alice@example.test -M bench.source.test $ADDR"
  fi
}
cpu_ticks() { awk '{print $14 + $15}' "/proc/$PID/stat"; }
# Read with bash builtins: the sampler runs 20 times a second during the
# round, and forking awk each time would load the machine being measured.
rss_kb() {
  local k v _
  while read -r k v _; do [[ $k == VmRSS: ]] && { echo "$v"; return; }; done < "/proc/$PID/status"
}

load1=$(cut -d' ' -f1 /proc/loadavg)
sync
c0=$(cpu_ticks)
rss0=$(rss_kb)
rssmax=$rss0
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
t0=$EPOCHREALTIME
/usr/bin/time -f '%e %U %S' -o "$tmp/time" \
  $(load_cmd) >"$tmp/out" 2>&1 &
spid=$!
exec {nap}<> <(:) # read -t on it sleeps without forking a sleep
while kill -0 "$spid" 2>/dev/null; do
  rss_kb > "$tmp/rss"; read -r r < "$tmp/rss"; (( r > rssmax )) && rssmax=$r
  read -rt 0.05 -u "$nap" _ || true
done
exec {nap}<&-
t1=$EPOCHREALTIME
wait "$spid" || { cat "$tmp/out" >&2; echo "smtp-source failed" >&2; exit 1; }
c1=$(cpu_ticks)
read -r _ cu cs < "$tmp/time"
awk -v n="$N" -v size="$SIZE" -v conc="$CONC" -v t0="$t0" -v t1="$t1" -v hz="$HZ" \
    -v cpu="$((c1 - c0))" -v cu="$cu" -v cs="$cs" -v rss0="$rss0" -v rssmax="$rssmax" -v la="$load1" -v ld="${LOADGEN:+yizhan-load}${LOADGEN_ARGS:+-bdat}" 'BEGIN {
  if (ld == "") ld = "smtp-source"
  wall = t1 - t0; s = cpu / hz
  printf "system=yizhan load=%s n=%d size=%d conc=%d wall_s=%.3f msgs_per_s=%.1f server_cpu_s=%.2f " \
         "server_cpu_ms_per_msg=%.3f client_cpu_s=%.2f rss_start_mb=%.1f rss_max_mb=%.1f loadavg=%s\n",
         ld, n, size, conc, wall, n / wall, s, 1000 * s / n, cu + cs, rss0 / 1024, rssmax / 1024, la
}'
