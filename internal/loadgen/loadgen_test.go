package loadgen

import (
	"bytes"
	"errors"
	"net/mail"
	"strings"
	"testing"
	"time"
)

func TestPercentiles(t *testing.T) {
	r := &Result{}
	if r.Percentile(50) != 0 || r.Max() != 0 {
		t.Error("empty result: nonzero percentile")
	}
	// 1ms..100ms: nearest rank makes p50 the 50th value and p99 the 99th.
	for i := 1; i <= 100; i++ {
		r.Latencies = append(r.Latencies, time.Duration(i)*time.Millisecond)
	}
	cases := map[float64]time.Duration{
		0: time.Millisecond, 1: time.Millisecond, 50: 50 * time.Millisecond,
		99: 99 * time.Millisecond, 99.5: 100 * time.Millisecond, 100: 100 * time.Millisecond,
	}
	for p, want := range cases {
		if got := r.Percentile(p); got != want {
			t.Errorf("p%v = %v, want %v", p, got, want)
		}
	}
	one := &Result{Latencies: []time.Duration{7 * time.Millisecond}}
	if one.Percentile(50) != 7*time.Millisecond || one.Percentile(99) != 7*time.Millisecond {
		t.Error("single sample: percentiles are not that sample")
	}
}

func TestSummaryFormat(t *testing.T) {
	r := &Result{Mode: "smtp", N: 5000, OK: 5000, Conns: 32, Dials: 32, Size: 10240, Elapsed: 1840 * time.Millisecond}
	for i := range 100 {
		r.Latencies = append(r.Latencies, time.Duration(i+1)*100*time.Microsecond)
	}
	want := "smtp: 5000 msgs in 1.84s = 2717.4 msgs/s  latency p50=5.0ms p99=9.9ms max=10.0ms  errors=0  conns=32 size=10240"
	if got := r.Summary(); got != want {
		t.Errorf("Summary\n got %q\nwant %q", got, want)
	}
	wantKV := "mode=smtp n=5000 ok=5000 errors=0 conns=32 dials=32 size=10240 elapsed_s=1.840 msgs_per_s=2717.4 p50_ms=5.00 p99_ms=9.90 max_ms=10.00"
	if got := r.KV(); got != wantKV {
		t.Errorf("KV\n got %q\nwant %q", got, wantKV)
	}
	if r.Err() != nil {
		t.Errorf("Err() = %v with no errors", r.Err())
	}
	r.Errors, r.N, r.FirstErrors = 2, 5002, []error{errors.New("message 3: DATA end: 451 later")}
	if err := r.Err(); err == nil || !strings.Contains(err.Error(), "2 of 5002 messages failed; first: message 3") {
		t.Errorf("Err() = %v", err)
	}
}

func TestMessageShape(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	mb := newMessageBuilder("load@example.test", []string{"a@example.test", "b@example.test"}, 0, now)
	for size := 0; size <= 1200; size++ {
		mb.size = size
		msg := mb.build(size, now)
		m, err := mail.ReadMessage(bytes.NewReader(msg))
		if err != nil {
			t.Fatalf("size %d: %v", size, err)
		}
		hdrLen := bytes.Index(msg, []byte("\r\n\r\n")) + 4
		if size >= hdrLen+3 && len(msg) != size {
			t.Errorf("size %d: message is %d bytes", size, len(msg))
		}
		if !bytes.HasSuffix(msg, []byte("\r\n")) {
			t.Errorf("size %d: does not end in CRLF", size)
		}
		inBody := false
		for i, l := range bytes.Split(msg[:len(msg)-2], []byte("\r\n")) {
			if len(l) > maxLine {
				t.Errorf("size %d: line %d has %d characters", size, i, len(l))
			}
			if bytes.ContainsAny(l, "\r\n") {
				t.Errorf("size %d: bare CR or LF in line %d", size, i)
			}
			if inBody && (len(l) == 0 || l[0] == '.' || l[0] == ' ') {
				t.Errorf("size %d: body line %d %q is empty or starts with a dot or space", size, i, l)
			}
			inBody = inBody || len(l) == 0
			for _, c := range l {
				if c < 0x20 || c > 0x7e {
					t.Errorf("size %d: line %d has byte %#x", size, i, c)
				}
			}
		}
		if size == 1200 {
			if got := m.Header.Get("Subject"); got != "yizhan-load message 1200" {
				t.Errorf("Subject %q", got)
			}
			if d, err := m.Header.Date(); err != nil || !d.Equal(now) {
				t.Errorf("Date %v, %v", d, err)
			}
			if id := m.Header.Get("Message-Id"); !strings.HasSuffix(id, ".1200@example.test>") {
				t.Errorf("Message-ID %q", id)
			}
		}
	}
}
