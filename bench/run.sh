#!/usr/bin/env bash
# run.sh — side-by-side SMTP intake benchmark: Yizhan and the Postfix+Dovecot
# peer (../shared/peers/postfix-dovecot, started with its setup.sh), same
# load, interleaved rounds so machine noise hits both alike.
#   env: N=5000 SIZE=10240 CONCS="1 8 32" RUNS=1 PEER=../shared/peers/postfix-dovecot
#        LOADS="smtp-source yizhan-load" (also: yizhan-load-bdat, BDAT instead
#        of DATA) NO_PEER=1 (Yizhan only)
# Output: key=value lines, also appended to bench/results/<date>.txt
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-5000}; SIZE=${SIZE:-10240}; CONCS=${CONCS:-"1 8 32"}; RUNS=${RUNS:-1}
PEER=${PEER:-../shared/peers/postfix-dovecot}
export PATH="/usr/sbin:$PATH"
work=$(mktemp -d /tmp/yizhan-bench.XXXX)
# The peer's bench-smtp.sh names an awk variable "load", a builtin in gawk
# 5.2 ("cannot use gawk builtin `load' as variable name"). Run a copy with
# only that variable renamed; its common.sh is used as it is.
mkdir -p "$work/peer"
cp "$PEER/common.sh" "$work/peer/"
sed 's/-v load=/-v la=/; s/bytes \/ n, load$/bytes \/ n, la/' "$PEER/bench-smtp.sh" > "$work/peer/bench-smtp.sh"
chmod +x "$work/peer/bench-smtp.sh"
# The same script with yizhan-load in place of smtp-source, for the
# connection-reuse load (still timed until every message is in the Maildir).
python3 - "$work/peer/bench-smtp.sh" "$work/peer/bench-loadgen.sh" "$work/yizhan-load" <<'PY'
import re, sys
src, dst, loadgen = sys.argv[1:]
s = open(src).read()
new, n = re.subn(r'smtp-source -s "\$CONC"[^>]*>', loadgen + ' smtp --addr "127.0.0.1:$SMTP_PORT" -c "$CONC" -n "$N" --size "$SIZE" --from bench@source.test --rcpt "alice@$DOMAIN" ${LOADGEN_ARGS:-} >', s, flags=re.S)
assert n == 1, "smtp-source call not found in the peer script"
open(dst, "w").write(new)
PY
chmod +x "$work/peer/bench-loadgen.sh"
mkdir -p bench/results
out="bench/results/$(date +%Y%m%d-%H%M%S).txt"
go build -o "$work/yizhan" ./cmd/yizhan
go build -o "$work/yizhan-load" ./cmd/yizhan-load
export BIN="$work/yizhan" CONFIG="$work/yizhan.toml"
cat > "$CONFIG" <<TOML
hostname = "mail.example.test"
data_dir = "$work/data"
[listen]
smtp = "127.0.0.1:3725"
submission = ""
submissions = ""
pop3 = ""
pop3s = "127.0.0.1:3795"
imap = ""
imaps = ""
http = ""
[limits]
min_password_length = 6  # the benchmarks' password "secret", as on the peer
max_connections_per_ip = 1024  # CONCS above the default 32, all from 127.0.0.1
[log]
level = "info"
TOML
"$BIN" --config "$CONFIG" domain add example.test >/dev/null
echo secret | "$BIN" --config "$CONFIG" user add alice@example.test --password-stdin >/dev/null
"$BIN" --config "$CONFIG" serve >"$work/stdout" 2>"$work/stderr" &
export PID=$! ADDR=127.0.0.1:3725
trap 'kill $PID 2>/dev/null || true; wait $PID 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 50); do grep -q "^listening smtp" "$work/stdout" && break; sleep 0.1; done
{
  echo "# $(date -Is) $(uname -srm) $(nproc) cores; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
  echo "# N=$N SIZE=$SIZE CONCS=$CONCS RUNS=$RUNS"
} | tee -a "$out"
bench/smtp-intake.sh 500 "$SIZE" 8 >/dev/null  # warm-up
LOADS=${LOADS:-"smtp-source yizhan-load"}
# The disk's fsync rate, measured before every round: the intake target
# is relative to it, and on a shared machine it moves from minute to minute.
fsync_rate() {
  local t
  /usr/bin/time -f %e -o "$work/ddtime" dd if=/dev/zero of="$work/ddtest" bs=4k count=2000 oflag=dsync 2>/dev/null
  t=$(tail -1 "$work/ddtime")
  rm -f "$work/ddtest"
  echo "system=disk test=dd-4k-dsync fsyncs_per_s=$(awk -v t="$t" 'BEGIN {printf "%.0f", 2000 / t}')"
}
# settle waits (at most 30 s) until the machine is quiet: a peer round
# leaves 5,000 Maildir files to write back and processes winding down,
# which would otherwise be charged to the next round.
settle() {
  sync
  local i a b
  for i in $(seq 30); do
    read -r -a a < /proc/stat; sleep 1; read -r -a b < /proc/stat
    # fields: cpu user nice system idle iowait irq softirq steal
    awk -v u=$((b[1]+b[2]+b[3]+b[6]+b[7]+b[8] - a[1]-a[2]-a[3]-a[6]-a[7]-a[8])) \
        -v t=$((b[1]+b[2]+b[3]+b[4]+b[5]+b[6]+b[7]+b[8] - a[1]-a[2]-a[3]-a[4]-a[5]-a[6]-a[7]-a[8])) \
        'BEGIN { exit !(t > 0 && u / t < 0.15) }' && return
  done
}
for _ in $(seq "$RUNS"); do
  for load in $LOADS; do
    for c in $CONCS; do
      settle
      fsync_rate | tee -a "$out"
      args=""
      if [[ $load == yizhan-load* ]]; then
        [[ $load == yizhan-load-bdat ]] && args=--chunking
        LOADGEN="$work/yizhan-load" LOADGEN_ARGS="$args" bench/smtp-intake.sh "$N" "$SIZE" "$c" | tee -a "$out"
        peer_script="$work/peer/bench-loadgen.sh"
      else
        bench/smtp-intake.sh "$N" "$SIZE" "$c" | tee -a "$out"
        peer_script="$work/peer/bench-smtp.sh"
      fi
      if [[ -x $PEER/bench-smtp.sh ]] && [[ -z ${NO_PEER:-} ]]; then
        # Yizhan is paused while the peer runs: its full-text indexer
        # works when no mail arrives, and would otherwise take CPU from
        # the peer's round.
        kill -STOP "$PID"
        settle
        echo "system=postfix-dovecot load=$load $(LOADGEN_ARGS="$args" "$peer_script" "$N" "$SIZE" "$c")" | tee -a "$out"
        kill -CONT "$PID"
      fi
    done
  done
done
# POP3 RETR of a 20 MB message: server RSS rise while it streams.
echo secret | "$BIN" --config "$CONFIG" user add bob@example.test --password-stdin >/dev/null
python3 - <<'PY'
import smtplib
body = ("x" * 76 + "\r\n") * (20 * 1024 * 1024 // 78)
msg = "From: bench@source.test\r\nTo: bob@example.test\r\nSubject: big\r\n\r\n" + body
with smtplib.SMTP("127.0.0.1", 3725) as s:
    s.sendmail("bench@source.test", ["bob@example.test"], msg)
PY
python3 - <<'PY'
import poplib, ssl
p = poplib.POP3_SSL("127.0.0.1", 3795, context=ssl._create_unverified_context())
p.user("bob@example.test"); p.pass_("secret"); p.quit()
PY
# Let the full-text indexer (it starts after 2 s without new mail) index
# the big message first: this measures RETR, not indexing.
sleep 8
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$PID/status"; }
r0=$(rss_kb); rmax=$r0
python3 - <<'PY' &
import poplib, ssl
p = poplib.POP3_SSL("127.0.0.1", 3795, context=ssl._create_unverified_context())
p.user("bob@example.test"); p.pass_("secret")
resp, lines, octets = p.retr(1)
assert octets > 20_000_000, octets
p.quit()
PY
ppid=$!
while kill -0 $ppid 2>/dev/null; do r=$(rss_kb); (( r > rmax )) && rmax=$r; sleep 0.01; done
wait $ppid
echo "system=yizhan test=pop3-retr-20MB rss_before_mb=$(awk -v a=$r0 'BEGIN{printf "%.1f", a/1024}') rss_max_mb=$(awk -v a=$rmax 'BEGIN{printf "%.1f", a/1024}') rise_mb=$(awk -v a=$r0 -v b=$rmax 'BEGIN{printf "%.2f", (b-a)/1024}')" | tee -a "$out"

check=0
python3 - "$N" "$RUNS" "$CONCS" "$(wc -w <<<"$LOADS")" <<'PY' || check=1
import poplib, ssl, sys
n, runs, concs = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3].split()
p = poplib.POP3_SSL("127.0.0.1", 3795, context=ssl._create_unverified_context())
p.user("alice@example.test"); p.pass_("secret")
count = p.stat()[0]
want = 500 + n * runs * len(concs) * int(sys.argv[4])
print(f"# check: alice's INBOX holds {count} messages, expected {want}")
sys.exit(0 if count == want else 1)
PY
kill "$PID"; wait "$PID" 2>/dev/null || true
grep -o 'store: group commit.*' "$work/stderr" | sed 's/^/# /' | tee -a "$out"
exit "$check"
