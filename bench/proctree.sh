# proctree.sh — CPU and memory of a server's whole process tree, for the
# side-by-side benchmarks (sourced by imap.sh and imaptest.sh).

# CPU ticks (utime+stime+cutime+cstime) summed over ROOT and its descendants
# (cat fails when a process exits while it reads: that is no error here).
# A child's own ticks stop being visible when it exits, but then its parent's
# cutime/cstime gain them once it is reaped.
tree_ticks() {
  { cat /proc/[0-9]*/stat 2>/dev/null || true; } | awk -v root="$1" '
    { pid = $1; s = $0; sub(/^.*\) /, "", s); split(s, a, " ")
      ppid[pid] = a[2]; t[pid] = a[12] + a[13] + a[14] + a[15] }
    END { sum = 0
      for (p in ppid) for (q = p; q != "" && q != 0; q = ppid[q]) {
        if (q == root) { sum += t[p]; break }
        if (q == 1) break
      }
      print sum }'
}
tree_pids() {
  { cat /proc/[0-9]*/stat 2>/dev/null || true; } | awk -v root="$1" '
    { pid = $1; s = $0; sub(/^.*\) /, "", s); split(s, a, " "); ppid[pid] = a[2] }
    END { for (p in ppid) for (q = p; q != "" && q != 0; q = ppid[q]) {
        if (q == root) { print p; break }
        if (q == 1) break
      } }'
}
# "RSS_KB PSS_KB" summed over the tree. PSS shares pages out fairly between
# processes, so it is the figure to compare for Dovecot's many processes.
tree_mem() {
  local p
  for p in $(tree_pids "$1"); do cat "/proc/$p/smaps_rollup" 2>/dev/null || true; done |
    awk '/^Rss:/ {r += $2} /^Pss:/ {s += $2} END {printf "%d %d\n", r, s}'
}
