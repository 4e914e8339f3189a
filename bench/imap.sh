#!/usr/bin/env bash
# imap.sh — side-by-side IMAP benchmark: Yizhan and the Dovecot of the
# Postfix+Dovecot peer (../shared/peers/postfix-dovecot, started with its
# setup.sh), driven by the same client (yizhan-load), one after the other.
#   1. mix: for each of CONNS, alice's INBOX on both servers is topped up to
#      the same message count, then `yizhan-load imap -c CONNS -d DUR` runs
#      against Yizhan, then against Dovecot; the server's CPU seconds over the
#      run (utime+stime+cutime+cstime of its process tree, so Dovecot's
#      per-connection imap processes that exit are counted through the
#      master) and its peak memory (RSS and PSS summed over the tree).
#   2. probe: a mailbox "bench-big" of BIG messages on each server, then
#      `yizhan-load imap-probe`: SELECT, UID FETCH 1:* (FLAGS), UID SEARCH
#      TEXT (BIG=0 skips).
#   3. idle: IDLE_CONNS connections idling on Yizhan; its RSS per connection
#      (IDLE_CONNS=0 skips). Dovecot is not run: its process_limit is 100.
#   env: CONNS="1 8 32" DUR=20s MSGS=5000 SIZE=10240 WARMUP=3s BIG=100000
#        BIG_SIZE=4096 REPS=5 IDLE_CONNS=10000 SYSTEMS="yizhan dovecot"
#        PEER=../shared/peers/postfix-dovecot OUT=bench/results/<date>-imap.txt
# Dovecot allows 10 connections per user and client address
# (mail_max_userip_connections): the client connects from 16 loopback
# addresses in turn, against both servers alike.
# Output: key=value lines, also appended to OUT.
set -euo pipefail
shopt -s inherit_errexit  # a failure inside $(...) stops the script too
cd "$(dirname "$0")/.."
CONNS=${CONNS:-"1 8 32"}; DUR=${DUR:-20s}; MSGS=${MSGS:-5000}; SIZE=${SIZE:-10240}; WARMUP=${WARMUP:-3s}
BIG=${BIG:-100000}; BIG_SIZE=${BIG_SIZE:-4096}; REPS=${REPS:-5}; IDLE_CONNS=${IDLE_CONNS:-10000}
SYSTEMS=${SYSTEMS:-"yizhan dovecot"}; PEER=${PEER:-../shared/peers/postfix-dovecot}
IDLE_SETUP_TIMEOUT=${IDLE_SETUP_TIMEOUT:-1200}  # s; 10,000 logins each pay a password hash
YIZHAN_ADDR=127.0.0.1:3793
USER_NAME=alice@example.test
export YIZHAN_LOAD_PASSWORD=secret  # read by yizhan-load: kept out of ps
SRC_IPS=$(seq -s, -f '127.0.0.%g' 1 16)
HZ=$(getconf CLK_TCK)
mkdir -p bench/results
OUT=${OUT:-bench/results/$(date +%Y%m%d-%H%M%S)-imap.txt}

die() { echo "imap.sh: $*" >&2; exit 1; }
has() { [[ " $SYSTEMS " == *" $1 "* ]]; }
kv() { tr ' ' '\n' <<<"$2" | sed -n "s/^$1=//p"; }  # kv KEY LINE

# tree_ticks, tree_pids, tree_mem
source bench/proctree.sh
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }

work=$(mktemp -d /tmp/yizhan-imap-bench.XXXX)
PID=""
cleanup() {
  if [[ -n $PID ]]; then kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
go build -o "$work/yizhan-load" ./cmd/yizhan-load
LOAD="$work/yizhan-load"

# ---- the servers ------------------------------------------------------------
if has dovecot; then
  DC_PID=$(bash -c 'source "$1/common.sh"; dc_master_pid' _ "$PEER") || die "Dovecot is not running: run $PEER/setup.sh"
  DOVECOT_ADDR=127.0.0.1:$(bash -c 'source "$1/common.sh"; echo "$IMAPS_PORT"' _ "$PEER")
fi
if has yizhan; then
  go build -o "$work/yizhan" ./cmd/yizhan
  BIN="$work/yizhan" CONFIG="$work/yizhan.toml"
  cat > "$CONFIG" <<TOML
hostname = "mail.example.test"
data_dir = "$work/data"
[listen]
smtp = ""
submission = ""
submissions = ""
pop3 = ""
pop3s = ""
imap = ""
imaps = "$YIZHAN_ADDR"
http = ""
[limits]
max_connections = $((IDLE_CONNS + 2000))
max_connections_per_listener = $((IDLE_CONNS + 1000))  # logins while connections pile up
max_connections_per_network = $((IDLE_CONNS + 1000))
max_connections_per_ip = $((IDLE_CONNS + 1000))
min_password_length = 6  # the benchmarks' password "secret", as on the peer
[log]
level = "warn"
TOML
  "$BIN" --config "$CONFIG" domain add example.test >/dev/null
  echo secret | "$BIN" --config "$CONFIG" user add "$USER_NAME" --password-stdin >/dev/null
  ulimit -n "$(ulimit -Hn)"  # one descriptor per held connection
  "$BIN" --config "$CONFIG" serve >"$work/stdout" 2>"$work/stderr" &
  PID=$!
  for _ in $(seq 100); do
    grep -q "^listening imaps" "$work/stdout" && break
    kill -0 "$PID" 2>/dev/null || break
    sleep 0.1
  done
  if ! grep -q "^listening imaps" "$work/stdout"; then
    echo "--- yizhan serve stdout:" >&2; cat "$work/stdout" >&2
    echo "--- yizhan serve stderr:" >&2; tail -20 "$work/stderr" >&2
    die "Yizhan is not listening on imaps $YIZHAN_ADDR (is the IMAP server in this build?); SYSTEMS=dovecot runs the Dovecot half alone"
  fi
fi
addr_of() { if [[ $1 == yizhan ]]; then echo "$YIZHAN_ADDR"; else echo "$DOVECOT_ADDR"; fi; }
root_of() { if [[ $1 == yizhan ]]; then echo "$PID"; else echo "$DC_PID"; fi; }
load() {  # load SYSTEM MODE ARGS...: yizhan-load against SYSTEM
  local s=$1 mode=$2; shift 2
  "$LOAD" "$mode" --addr "$(addr_of "$s")" --user "$USER_NAME" --source-ips "$SRC_IPS" "$@"
}

# fill_to SYSTEM MAILBOX N SIZE: append until MAILBOX holds N; prints its size.
fill_to() {
  local line
  line=$(load "$1" imap-probe --mailbox "$2" --fill-to "$3" --size "$4" -r 0 2>"$work/fill.err") ||
    { cat "$work/fill.err" >&2; die "filling $2 on $1 failed"; }
  kv messages "$line"
}
# equalize MAILBOX N SIZE: bring MAILBOX on every system to the same count,
# at least N; prints it.
equalize() {
  local s m n=0
  for s in $SYSTEMS; do m=$(fill_to "$s" "$1" "$2" "$3"); ((m > n)) && n=$m; done
  for s in $SYSTEMS; do
    m=$(fill_to "$s" "$1" "$n" "$3")
    [[ $m == "$n" ]] || die "$1 on $s holds $m messages, want $n"
  done
  echo "$n"
}

{
  echo "# $(date -Is) $(uname -srm) $(nproc) cores; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
  echo "# CONNS=$CONNS DUR=$DUR MSGS=$MSGS SIZE=$SIZE BIG=$BIG BIG_SIZE=$BIG_SIZE REPS=$REPS IDLE_CONNS=$IDLE_CONNS SYSTEMS=$SYSTEMS"
  echo "# client connects from 127.0.0.1-16 in turn; Dovecot CPU/memory is its whole process tree (LMTP deliveries by others included)"
} | tee -a "$OUT"

# ---- 1. the mix -------------------------------------------------------------
# run_mix SYSTEM CONC: one measured run; prints its result line.
run_mix() {
  local s=$1 c=$2 root line rc=0 c0 c1 m mem rmax=0 pmax=0 la
  root=$(root_of "$s")
  la=$(cut -d' ' -f1 /proc/loadavg)
  sync
  c0=$(tree_ticks "$root")
  /usr/bin/time -f '%U %S' -o "$work/time" \
    "$LOAD" imap --addr "$(addr_of "$s")" --user "$USER_NAME" --source-ips "$SRC_IPS" \
      -c "$c" -d "$DUR" --size "$SIZE" >"$work/mix.out" 2>"$work/mix.err" &
  local lpid=$!
  while kill -0 "$lpid" 2>/dev/null; do
    read -r m mem < <(tree_mem "$root")
    ((m > rmax)) && rmax=$m
    ((mem > pmax)) && pmax=$mem
    sleep 0.5
  done
  wait "$lpid" || rc=$?
  sleep 0.5  # Dovecot's master reaps the imap processes that logged out: their CPU moves to its cutime
  c1=$(tree_ticks "$root")
  line=$(grep '^mode=imap ' "$work/mix.out") || { cat "$work/mix.err" >&2; die "imap mix against $s failed (exit $rc)"; }
  ((rc == 0)) || head -3 "$work/mix.err" | sed "s/^/# $s conc=$c: /" >&2
  local cu cs ok
  read -r cu cs < "$work/time"
  ok=$(kv ok "$line")
  awk -v s="$s" -v c="$c" -v d="$DUR" -v line="$line" -v t=$((c1 - c0)) -v hz="$HZ" -v ok="$ok" \
      -v cu="$cu" -v cs="$cs" -v r="$rmax" -v p="$pmax" -v la="$la" 'BEGIN {
    cpu = t / hz
    printf "system=%s test=imap-mix conc=%d dur=%s %s server_cpu_s=%.2f server_cpu_ms_per_op=%.3f " \
           "client_cpu_s=%.2f server_rss_max_mb=%.1f server_pss_max_mb=%.1f loadavg=%s\n",
           s, c, d, line, cpu, (ok > 0 ? 1000 * cpu / ok : 0), cu + cs, r / 1024, p / 1024, la
  }'
}

n=$(equalize INBOX "$MSGS" "$SIZE")
for s in $SYSTEMS; do  # warm-up: page cache, index files, the servers' own caches
  load "$s" imap -c 8 -d "$WARMUP" --size "$SIZE" >/dev/null 2>&1 || true
done
for c in $CONNS; do
  n=$(equalize INBOX "$n" "$SIZE")
  for s in $SYSTEMS; do
    run_mix "$s" "$c" | tee -a "$OUT"
  done
done

# ---- 2. probes on a big mailbox --------------------------------------------
if ((BIG > 0)); then
  n=$(equalize bench-big "$BIG" "$BIG_SIZE")
  for s in $SYSTEMS; do
    line=$(load "$s" imap-probe --mailbox bench-big -r "$REPS" --word invoice) || die "imap-probe against $s failed"
    echo "system=$s test=imap-probe big=$n $line" | tee -a "$OUT"
  done
fi

# ---- 3. idle connections on Yizhan ---------------------------------------------
if has yizhan && ((IDLE_CONNS > 0)); then
  sleep 1
  r0=$(rss_kb "$PID")
  "$LOAD" imap-idle --addr "$YIZHAN_ADDR" --user "$USER_NAME" -c "$IDLE_CONNS" --parallel 200 \
    >"$work/idle.out" 2>"$work/idle.err" &
  ipid=$!
  deadline=$((SECONDS + IDLE_SETUP_TIMEOUT))
  until grep -q "connections idling" "$work/idle.out"; do
    kill -0 "$ipid" 2>/dev/null || { cat "$work/idle.out" "$work/idle.err" >&2; die "imap-idle ended during setup"; }
    ((SECONDS < deadline)) || { kill -INT "$ipid"; wait "$ipid" || true; die "imap-idle: setup took over ${IDLE_SETUP_TIMEOUT}s"; }
    sleep 1
  done
  sleep 2  # let the server settle
  r1=$(rss_kb "$PID")
  kill -INT "$ipid"
  wait "$ipid" || true
  line=$(grep '^mode=imap-idle' "$work/idle.out") || { cat "$work/idle.err" >&2; die "imap-idle printed no result"; }
  est=$(kv established "$line")
  head -3 "$work/idle.err" | sed 's/^/# /' >&2
  awk -v line="$line" -v a="$r0" -v b="$r1" -v n="$est" 'BEGIN {
    printf "system=yizhan test=imap-idle %s rss_before_mb=%.1f rss_after_mb=%.1f rss_per_conn_kb=%.1f\n",
           line, a / 1024, b / 1024, (n > 0 ? (b - a) / n : 0)
  }' | tee -a "$OUT"
fi
