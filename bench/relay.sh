#!/usr/bin/env bash
# relay.sh — outbound relay benchmark, side by side: N messages of SIZE
# bytes submitted (STARTTLS + AUTH, CONC connections, yizhan-load) for a
# remote recipient, relayed to Postfix's smtp-sink on 127.0.0.1:SINK_PORT;
# Yizhan uses it as its smarthost (smarthost_tls = "none"), the peer
# Postfix as its relayhost. Timed from the first submission until the
# sender's queue is empty again. Also: Yizhan's peak RSS, and the start-up
# of Yizhan with QUEUED messages waiting (QUEUED=0 skips).
#   env: N=10000 SIZE=10240 CONC=32 QUEUED=100000 PEER=../shared/peers/postfix-dovecot
# Output: key=value lines, also appended to bench/results/<date>-relay.txt
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-10000}; SIZE=${SIZE:-10240}; CONC=${CONC:-32}; QUEUED=${QUEUED:-100000}
PEER=${PEER:-../shared/peers/postfix-dovecot}
SINK_PORT=3925
export PATH="/usr/sbin:$PATH"
work=$(mktemp -d /tmp/yizhan-relay.XXXX)
mkdir -p bench/results
out="bench/results/$(date +%Y%m%d-%H%M%S)-relay.txt"
PID="" SINK="" pf_restore=""
cleanup() {
  [[ -n $PID ]] && { kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; }
  [[ -n $SINK ]] && { kill "$SINK" 2>/dev/null || true; }
  if [[ -n $pf_restore ]]; then
    cp "$work/main.cf.orig" "$PF_CONF/main.cf"
    postfix -c "$PF_CONF" reload >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
go build -o "$work/yizhan" ./cmd/yizhan
go build -o "$work/yizhan-load" ./cmd/yizhan-load
{
  echo "# $(date -Is) $(uname -srm) $(nproc) cores; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
  echo "# N=$N SIZE=$SIZE CONC=$CONC QUEUED=$QUEUED sink=smtp-sink 127.0.0.1:$SINK_PORT"
} | tee -a "$out"

smtp-sink -u nobody "127.0.0.1:$SINK_PORT" 1024 >/dev/null 2>&1 &
SINK=$!
sleep 0.5
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }

# ---- Yizhan --------------------------------------------------------------
BIN="$work/yizhan" CONFIG="$work/yizhan.toml"
cat > "$CONFIG" <<TOML
hostname = "mail.example.test"
data_dir = "$work/data"
[listen]
smtp = ""
submission = "127.0.0.1:3787"
submissions = ""
pop3 = ""
pop3s = ""
imap = ""
imaps = ""
http = ""
[delivery]
smarthost = "127.0.0.1:$SINK_PORT"
smarthost_tls = "none"
[limits]
min_password_length = 6  # the benchmarks' password "secret", as on the peer
[log]
level = "warn"
TOML
"$BIN" --config "$CONFIG" domain add example.test >/dev/null
echo secret | "$BIN" --config "$CONFIG" user add alice@example.test --password-stdin >/dev/null
"$BIN" --config "$CONFIG" serve >"$work/stdout" 2>"$work/stderr" &
PID=$!
for _ in $(seq 50); do grep -q "^Yizhan serving" "$work/stdout" && break; sleep 0.1; done
load() { # load ADDR
  "$work/yizhan-load" smtp --addr "$1" --tls starttls --user alice@example.test --password secret \
    --from alice@example.test --rcpt bob@sink.test -c "$CONC" -n "$N" --size "$SIZE"
}
yz_queue() { "$BIN" --config "$CONFIG" queue list | wc -l; }
la=$(cut -d' ' -f1 /proc/loadavg)
c0=$(awk '{print $14 + $15}' "/proc/$PID/stat")
rmax=$(rss_kb "$PID")
t0=$EPOCHREALTIME
load 127.0.0.1:3787 > "$work/yz-load.out" 2>&1 &
lp=$!
while kill -0 "$lp" 2>/dev/null; do r=$(rss_kb "$PID"); ((r > rmax)) && rmax=$r; sleep 0.1; done
wait "$lp" || { cat "$work/yz-load.out" >&2; exit 1; }
t1=$EPOCHREALTIME
while (( $(yz_queue) > 0 )); do r=$(rss_kb "$PID"); ((r > rmax)) && rmax=$r; sleep 0.1; done
t2=$EPOCHREALTIME
c1=$(awk '{print $14 + $15}' "/proc/$PID/stat")
awk -v n="$N" -v t0="$t0" -v t1="$t1" -v t2="$t2" -v cpu=$((c1 - c0)) -v hz="$(getconf CLK_TCK)" -v r="$rmax" -v la="$la" 'BEGIN {
  printf "system=yizhan test=relay n=%d accept_s=%.2f wall_s=%.2f msgs_per_s=%.1f server_cpu_ms_per_msg=%.3f rss_max_mb=%.1f loadavg=%s\n",
    n, t1 - t0, t2 - t0, n / (t2 - t0), 1000 * cpu / hz / n, r / 1024, la }' | tee -a "$out"
grep -o 'load: .*\|msgs_per_s=[0-9.]*' "$work/yz-load.out" | head -1 | sed 's/^/# yizhan-load: /' | tee -a "$out"

# ---- start-up with a big queue ---------------------------------------------
if ((QUEUED > 0)); then
  # The sink goes away: everything submitted now waits in the queue.
  kill "$SINK"; wait "$SINK" 2>/dev/null || true; SINK=""
  N=$QUEUED CONC=$CONC load 127.0.0.1:3787 > "$work/yz-fill.out" 2>&1 || { cat "$work/yz-fill.out" >&2; exit 1; }
  kill "$PID"; wait "$PID" 2>/dev/null || true
  q=$(yz_queue)
  ts=$EPOCHREALTIME
  "$BIN" --config "$CONFIG" serve >"$work/stdout2" 2>>"$work/stderr" &
  PID=$!
  until grep -q "^Yizhan serving" "$work/stdout2"; do sleep 0.01; done
  te=$EPOCHREALTIME
  sleep 3  # the runner looks at the queue and tries (the sink is gone)
  awk -v q="$q" -v ts="$ts" -v te="$te" -v r="$(rss_kb "$PID")" 'BEGIN {
    printf "system=yizhan test=startup queued=%d startup_s=%.3f rss_after_3s_mb=%.1f\n", q, te - ts, r / 1024 }' | tee -a "$out"
  kill "$PID"; wait "$PID" 2>/dev/null || true; PID=""
  smtp-sink -u nobody "127.0.0.1:$SINK_PORT" 1024 >/dev/null 2>&1 &
  SINK=$!
  sleep 0.5
fi

# ---- Postfix ---------------------------------------------------------------
if [[ -x $PEER/bench-smtp.sh ]] && [[ -z ${NO_PEER:-} ]]; then
  # shellcheck source=/dev/null
  source "$PEER/common.sh"
  pf_master_pid >/dev/null || { echo "the peer's Postfix is not running: run $PEER/setup.sh" >&2; exit 1; }
  cp "$PF_CONF/main.cf" "$work/main.cf.orig"
  pf_restore=1
  postconf -c "$PF_CONF" -e "relayhost = [127.0.0.1]:$SINK_PORT" "default_transport = smtp"  "relay_transport = smtp"
  postfix -c "$PF_CONF" reload >/dev/null 2>&1
  sleep 1
  la=$(cut -d' ' -f1 /proc/loadavg)
  t0=$EPOCHREALTIME
  load "127.0.0.1:$SUB_PORT" > "$work/pf-load.out" 2>&1 || { cat "$work/pf-load.out" >&2; exit 1; }
  t1=$EPOCHREALTIME
  while (( $(pf_queue_count) > 0 )); do sleep 0.1; done
  t2=$EPOCHREALTIME
  awk -v n="$N" -v t0="$t0" -v t1="$t1" -v t2="$t2" -v la="$la" 'BEGIN {
    printf "system=postfix test=relay n=%d accept_s=%.2f wall_s=%.2f msgs_per_s=%.1f loadavg=%s\n", n, t1 - t0, t2 - t0, n / (t2 - t0), la }' | tee -a "$out"
  grep -c "status=sent" "$LOG_DIR/postfix.log" | sed 's/^/# postfix log lines with status=sent (cumulative): /' | tee -a "$out"
fi
