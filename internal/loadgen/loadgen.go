// Package loadgen drives a mail server with many concurrent client
// connections and measures throughput and per-operation latency, so Yizhan
// can be benchmarked side by side with other servers (DESIGN.md §5).
//
// A protocol mode (SMTP and IMAP) supplies a dial function that
// opens one client session; the protocol-neutral engine in this file
// spreads the operations over the connections, times each one, and
// summarises the run in a Result. The clients are written here on
// net/textproto rather than taken from a library, so the load generator
// controls every byte on the wire (pipelining, connection reuse) and works
// against any server, not only ours.
package loadgen

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// maxKeptErrors bounds how many error messages a Result keeps: a run
// against a dead server would otherwise hold one per message.
const maxKeptErrors = 10

// session is one open client connection of some protocol.
type session interface {
	// do performs operation seq (0-based, unique within the run); its
	// duration is the latency measured. After an error that leaves the
	// session unusable, do reports broken.
	do(seq int) (broken bool, err error)
	// close ends the session politely (QUIT, LOGOUT) and releases it.
	close() error
}

// spec describes one run of the engine.
type spec struct {
	mode    string                                     // name printed in the summary: "smtp"
	conns   int                                        // concurrent connections
	count   int                                        // operations in total
	perConn int                                        // operations per connection; 0 = no limit
	size    int                                        // bytes per message, for the summary
	dial    func(ctx context.Context) (session, error) // opens a ready session (greeting, TLS, auth done)
}

// Result summarises one run.
type Result struct {
	Mode    string        // "smtp"
	N       int           // operations attempted
	OK      int           // operations that succeeded
	Errors  int           // operations that failed, including those lost to a failed connection
	Conns   int           // concurrent connections
	Dials   int           // connections opened (more than Conns with --per-conn)
	Size    int           // bytes per message
	Elapsed time.Duration // wall time of the run, connection setup included

	// Latencies of the successful operations, ascending.
	Latencies []time.Duration
	// FirstErrors are the first few failures, in the order they happened.
	FirstErrors []error
}

// run executes s: conns workers take operation numbers from one counter
// until count are taken, each keeping its connection for perConn
// operations (or all of them) and redialling after a broken one.
func run(ctx context.Context, s spec) *Result {
	conns := max(min(s.conns, s.count), 1)
	res := &Result{Mode: s.mode, Conns: conns, Size: s.size}
	var (
		next  atomic.Int64 // next operation number to take
		dials atomic.Int64
		mu    sync.Mutex // guards res.Errors, res.FirstErrors, res.Latencies
		wg    sync.WaitGroup
	)
	fail := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		res.Errors++
		if len(res.FirstErrors) < maxKeptErrors {
			res.FirstErrors = append(res.FirstErrors, err)
		}
	}

	start := time.Now()
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var (
				sess session
				used int             // operations on sess so far
				lat  []time.Duration // this worker's latencies, merged at the end
			)
			defer func() {
				if sess != nil {
					sess.close()
				}
				mu.Lock()
				res.Latencies = append(res.Latencies, lat...)
				mu.Unlock()
			}()
			for ctx.Err() == nil {
				seq := int(next.Add(1) - 1)
				if seq >= s.count {
					return
				}
				if sess != nil && s.perConn > 0 && used >= s.perConn {
					sess.close()
					sess = nil
				}
				if sess == nil {
					dials.Add(1)
					var err error
					if sess, err = s.dial(ctx); err != nil {
						sess = nil
						fail(fmt.Errorf("message %d: %w", seq, err))
						continue
					}
					used = 0
				}
				t0 := time.Now()
				broken, err := sess.do(seq)
				d := time.Since(t0)
				used++
				if err != nil {
					fail(fmt.Errorf("message %d: %w", seq, err))
					if broken {
						sess.close()
						sess = nil
					}
					continue
				}
				lat = append(lat, d)
			}
		}()
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	res.Dials = int(dials.Load())
	slices.Sort(res.Latencies)
	res.OK = len(res.Latencies)
	res.N = res.OK + res.Errors
	return res
}

// Percentile returns the latency below which p percent of the successful
// operations finished (nearest-rank method), or 0 if none succeeded.
func (r *Result) Percentile(p float64) time.Duration {
	n := len(r.Latencies)
	if n == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(n)))
	return r.Latencies[min(max(rank, 1), n)-1]
}

// Max returns the slowest successful operation's latency.
func (r *Result) Max() time.Duration { return r.Percentile(100) }

// PerSecond returns successful operations per second of wall time.
func (r *Result) PerSecond() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.OK) / r.Elapsed.Seconds()
}

// Err reports whether any operation failed, quoting the first failure.
func (r *Result) Err() error {
	if r.Errors == 0 {
		return nil
	}
	return fmt.Errorf("%s: %d of %d messages failed; first: %w", r.Mode, r.Errors, r.N, r.FirstErrors[0])
}

// Summary is the line for people:
//
//	smtp: 5000 msgs in 1.84s = 2717.4 msgs/s  latency p50=9.1ms p99=31.0ms max=45.2ms  errors=0  conns=32 size=10240
func (r *Result) Summary() string {
	return fmt.Sprintf("%s: %d msgs in %.2fs = %.1f msgs/s  latency p50=%s p99=%s max=%s  errors=%d  conns=%d size=%d",
		r.Mode, r.OK, r.Elapsed.Seconds(), r.PerSecond(),
		ms(r.Percentile(50)), ms(r.Percentile(99)), ms(r.Max()), r.Errors, r.Conns, r.Size)
}

// KV is the same summary as key=value pairs for scripts (bench/, CI).
func (r *Result) KV() string {
	pairs := []string{
		"mode=" + r.Mode,
		fmt.Sprintf("n=%d", r.N),
		fmt.Sprintf("ok=%d", r.OK),
		fmt.Sprintf("errors=%d", r.Errors),
		fmt.Sprintf("conns=%d", r.Conns),
		fmt.Sprintf("dials=%d", r.Dials),
		fmt.Sprintf("size=%d", r.Size),
		fmt.Sprintf("elapsed_s=%.3f", r.Elapsed.Seconds()),
		fmt.Sprintf("msgs_per_s=%.1f", r.PerSecond()),
		fmt.Sprintf("p50_ms=%.2f", msf(r.Percentile(50))),
		fmt.Sprintf("p99_ms=%.2f", msf(r.Percentile(99))),
		fmt.Sprintf("max_ms=%.2f", msf(r.Max())),
	}
	return strings.Join(pairs, " ")
}

func msf(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func ms(d time.Duration) string { return fmt.Sprintf("%.1fms", msf(d)) }
