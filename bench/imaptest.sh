#!/usr/bin/env bash
# imaptest.sh — Dovecot's imaptest against Yizhan and the peer's Dovecot,
# side by side: for each MODE, ROUNDS pairs of 30-second stress rounds
# (Yizhan, then Dovecot), each server over implicit TLS with the same mbox.
# Prints per round: operations imaptest counted, server CPU seconds of the
# server's process tree, CPU ms per operation, and the number of error
# lines imaptest printed (protocol or consistency faults); then the
# compliance scripts against both (COMPLIANCE=0 skips).
#
# imaptest is not packaged: build it with ../shared/peers/imaptest/build.sh
# (see docs/BENCHMARKS.md, "imaptest"), then
#   IMAPTEST=/path/to/imaptest MBOX=/path/to/test.mbox bench/imaptest.sh
# env: MODES="default logout=0 checkpoint=5" ROUNDS=2 SECS=30 CLIENTS=20
#      PEER=../shared/peers/postfix-dovecot IMAPTEST_PEER=../shared/peers/imaptest OUT=bench/results/<date>-imaptest.txt
# MBOX: ../shared/peers/imaptest/genmbox.py test.mbox 2000. Dovecot needs
# mail_max_userip_connections above CLIENTS (its default is 10).
set -euo pipefail
shopt -s inherit_errexit
cd "$(dirname "$0")/.."
IMAPTEST=${IMAPTEST:?set IMAPTEST to the imaptest wrapper build.sh made}
MBOX=${MBOX:?set MBOX to an mbox made by genmbox.py}
MODES=${MODES:-"default logout=0 checkpoint=5"}; ROUNDS=${ROUNDS:-2}; SECS=${SECS:-30}; CLIENTS=${CLIENTS:-20}
COMPLIANCE=${COMPLIANCE:-1}
PEER=${PEER:-../shared/peers/postfix-dovecot}
IMAPTEST_PEER=${IMAPTEST_PEER:-../shared/peers/imaptest}
YIZHAN_ADDR=127.0.0.1:3893
HZ=$(getconf CLK_TCK)
mkdir -p bench/results
OUT=${OUT:-bench/results/$(date +%Y%m%d-%H%M%S)-imaptest.txt}
source bench/proctree.sh
die() { echo "imaptest.sh: $*" >&2; exit 1; }

DC_PID=$(bash -c 'source "$1/common.sh"; dc_master_pid' _ "$PEER") || die "Dovecot is not running: run $PEER/setup.sh"
DOVECOT_PORT=$(bash -c 'source "$1/common.sh"; echo "$IMAPS_PORT"' _ "$PEER")

work=$(mktemp -d /tmp/yizhan-imaptest.XXXX)
PID=""
cleanup() { [[ -z $PID ]] || kill "$PID" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
go build -o "$work/yizhan" ./cmd/yizhan
BIN="$work/yizhan" CONFIG="$work/yizhan.toml"
cat >"$CONFIG" <<TOML
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
min_password_length = 6  # the benchmarks' password "secret", as on the peer
[log]
level = "warn"
TOML
"$BIN" --config "$CONFIG" domain add example.test >/dev/null
# imaptest's scripts and the peer use the password "secret" (6 characters).
for u in alice bob; do
  echo secret | "$BIN" --config "$CONFIG" user add "$u@example.test" --password-stdin >/dev/null
done
"$BIN" --config "$CONFIG" serve >"$work/stdout" 2>"$work/stderr" &
PID=$!
for _ in $(seq 100); do
  kill -0 "$PID" 2>/dev/null || { cat "$work/stderr" >&2; die "yizhan serve exited (is $YIZHAN_ADDR taken?)"; }
  (echo >"/dev/tcp/${YIZHAN_ADDR%:*}/${YIZHAN_ADDR#*:}") 2>/dev/null && break
  sleep 0.1
done
sleep 0.5  # a listener someone else left on the port answers too
kill -0 "$PID" 2>/dev/null || { cat "$work/stderr" >&2; die "yizhan serve exited (is $YIZHAN_ADDR taken?)"; }

{
  echo "# $(date -Is) $(uname -srm) $(nproc) cores; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
  echo "# imaptest clients=$CLIENTS secs=$SECS MODES=$MODES ROUNDS=$ROUNDS mbox=$(basename "$MBOX") ($(grep -c '^From ' "$MBOX") messages)"
} | tee -a "$OUT"

# round SYSTEM MODE N: one stress round; prints a key=value line.
round() {
  local s=$1 mode=$2 n=$3 port root args=() c0 c1 ops errs user=alice@example.test
  if [[ $s == yizhan ]]; then port=${YIZHAN_ADDR#*:} root=$PID; else port=$DOVECOT_PORT root=$DC_PID; fi
  [[ $mode == default ]] || args+=("$mode")
  # checkpoint mode compares the sessions' views: a new mailbox on both
  # servers, so what earlier rounds left behind does not count.
  if [[ $mode == checkpoint* ]]; then
    local box=checkpoint-$$-$n
    python3 -c 'import imaplib, ssl, sys
m = imaplib.IMAP4_SSL("127.0.0.1", int(sys.argv[1]), ssl_context=ssl._create_unverified_context())
m.login(sys.argv[2], "secret"); m.create(sys.argv[3]); m.logout()' "$port" "$user" "$box"
    args+=("box=$box")
  fi
  local la
  la=$(cut -d' ' -f1 /proc/loadavg)
  c0=$(tree_ticks "$root")
  timeout $((SECS + 120)) "$IMAPTEST" host=127.0.0.1 port="$port" ssl=any-cert user="$user" pass=secret \
    mbox="$MBOX" clients="$CLIENTS" secs="$SECS" "${args[@]}" >"$work/round.txt" 2>&1 || true
  c1=$(tree_ticks "$root")
  ops=$(awk '/^Totals:/ {t=1; next} t && /^ *[0-9]/ && !/%/ && NF>3 {s=0; for (i=1;i<=NF;i++) s+=$i; print s; exit}' "$work/round.txt")
  errs=$(grep -c -E '^Error:|^Panic|^Fatal' "$work/round.txt" || true)
  local cpu
  cpu=$(awk -v a="$c0" -v b="$c1" -v hz="$HZ" 'BEGIN {printf "%.1f", (b-a)/hz}')
  echo "imaptest system=$s mode=$mode round=$n ops=${ops:-0} server_cpu_s=$cpu cpu_ms_per_op=$(awk -v c="$cpu" -v o="${ops:-0}" 'BEGIN {if (o>0) printf "%.2f", c*1000/o; else print "NaN"}') errors=$errs load_before=$la"
  if ((errs > 0)); then
    grep -E '^Error:|^Panic|^Fatal' "$work/round.txt" | sed 's/^/#   /' | sort | uniq -c | sort -rn | head -5
  fi
}

for mode in $MODES; do
  for n in $(seq "$ROUNDS"); do
    round yizhan "$mode" "$n" | tee -a "$OUT"
    round dovecot "$mode" "$n" | tee -a "$OUT"
  done
done

if [[ $COMPLIANCE == 1 ]]; then
  for s in yizhan dovecot; do
    if [[ $s == yizhan ]]; then port=${YIZHAN_ADDR#*:}; else port=$DOVECOT_PORT; fi
    OUT_DIR="$work/compliance-$s"
    mkdir -p "$OUT_DIR"
    OUT="$OUT_DIR" bash "$IMAPTEST_PEER/compliance.sh" "$IMAPTEST" "$port" \
      >"$work/compliance-$s.txt" 2>&1 || true
    res=$(tail -1 "$work/compliance-$s.txt")
    echo "compliance system=$s $res" | tee -a "$OUT"
    grep -E ' (FAIL|RC[0-9]+) ' "$work/compliance-$s.txt" | sed 's/^/#   /' | tee -a "$OUT" || true
  done
fi
