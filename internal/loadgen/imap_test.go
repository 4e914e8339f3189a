package loadgen

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/yizhan-mail/yizhan/internal/tlsutil"
)

func runIMAP(t *testing.T, o IMAPOptions) *IMAPResult {
	t.Helper()
	res, err := RunIMAP(context.Background(), o)
	if err != nil {
		t.Fatalf("RunIMAP: %v", err)
	}
	return res
}

// checkIMAPTotals checks that the per-operation results add up to the
// total and that percentiles are in order.
func checkIMAPTotals(t *testing.T, res *IMAPResult) {
	t.Helper()
	n, ok, errs := 0, 0, 0
	for _, o := range res.Ops {
		if o.N != o.OK+o.Errors || len(o.Latencies) != o.OK {
			t.Errorf("%s: N=%d OK=%d Errors=%d latencies=%d", o.Mode, o.N, o.OK, o.Errors, len(o.Latencies))
		}
		if o.OK > 0 && !(o.Latencies[0] > 0 && o.Percentile(50) <= o.Percentile(99) && o.Percentile(99) <= o.Max()) {
			t.Errorf("%s: percentiles out of order: min=%v p50=%v p99=%v max=%v", o.Mode, o.Latencies[0], o.Percentile(50), o.Percentile(99), o.Max())
		}
		n, ok, errs = n+o.N, ok+o.OK, errs+o.Errors
	}
	tot := res.Total
	if tot.N != n || tot.OK != ok || tot.Errors != errs || len(tot.Latencies) != ok {
		t.Errorf("total N=%d OK=%d Errors=%d latencies=%d; ops add up to N=%d OK=%d Errors=%d",
			tot.N, tot.OK, tot.Errors, len(tot.Latencies), n, ok, errs)
	}
	if (errs == 0) != (res.Err() == nil) {
		t.Errorf("Err() = %v with %d errors", res.Err(), errs)
	}
}

// The mix against the fake: every operation the client counts is one the
// server received, the refused STOREs and only they are errors, and every
// FETCH brought the two literals of the fake's response whole.
func TestIMAPMixCounts(t *testing.T) {
	f := newFake(t, 20)
	f.rejectStore = true
	f.start()
	res := runIMAP(t, IMAPOptions{IMAPServer: f.server(), Connections: 3, Count: 400, Seed: 7, Size: 2000})
	checkIMAPTotals(t, res)
	if res.Total.N != 400 || res.Total.Conns != 3 || res.Messages != 20 {
		t.Errorf("N=%d conns=%d messages=%d, want 400, 3, 20", res.Total.N, res.Total.Conns, res.Messages)
	}
	for _, name := range imapOps {
		if res.Op(name).N == 0 {
			t.Errorf("%s never ran in 400 operations", name)
		}
	}
	store := res.Op(opStore)
	if store.OK != 0 || store.Errors != store.N || res.Total.Errors != store.N {
		t.Errorf("store: OK=%d Errors=%d N=%d, total errors %d: want every store, and only they, failed",
			store.OK, store.Errors, store.N, res.Total.Errors)
	}
	if len(res.Total.FirstErrors) == 0 || !strings.Contains(res.Total.FirstErrors[0].Error(), "UID STORE: NO [CANNOT] store refused") {
		t.Errorf("first errors %v", res.Total.FirstErrors)
	}
	if err := res.Err(); err == nil || !strings.Contains(err.Error(), "of 400 operations failed") {
		t.Errorf("Err() = %v", err)
	}
	search := res.Op(opSearchUnseen).N + res.Op(opSearchSubject).N + res.Op(opSearchText).N
	for _, c := range []struct {
		cmd  string
		want int
	}{
		{"UID FETCH BODY", res.Op(opFetch).N},
		{"UID STORE", store.N},
		{"UID SEARCH", search},
		{"APPEND", res.Op(opAppend).N},
		{"NOOP", res.Op(opNoop).N},
		{"IDLE", res.Op(opIdle).N},
		{"DONE", res.Op(opIdle).N},
		{"LOGIN", 3}, // no reconnection: a NO does not break the connection
		{"SELECT", 3},
		{"UID FETCH FLAGS", 3},
		{"LOGOUT", 3},
		{"UID FETCH UID", 0}, // APPENDUID told the new UIDs
	} {
		if got := f.count(c.cmd); got != c.want {
			t.Errorf("server got %d %s, want %d", got, c.cmd, c.want)
		}
	}
	if want := int64(res.Op(opFetch).OK * fakeLiteralBytes); res.FetchedBytes != want {
		t.Errorf("fetched %d literal bytes, want %d (%d fetches of %d)", res.FetchedBytes, want, res.Op(opFetch).OK, fakeLiteralBytes)
	}
	var subject, text, unseen int
	for _, s := range f.searches {
		switch s {
		case "SUBJECT invoice":
			subject++
		case "TEXT invoice":
			text++
		case "UNSEEN":
			unseen++
		default:
			t.Errorf("search %q", s)
		}
	}
	if subject != res.Op(opSearchSubject).N || text != res.Op(opSearchText).N || unseen != res.Op(opSearchUnseen).N {
		t.Errorf("server searches subject=%d text=%d unseen=%d; client counted %d, %d, %d", subject, text, unseen,
			res.Op(opSearchSubject).N, res.Op(opSearchText).N, res.Op(opSearchUnseen).N)
	}
	for i, m := range f.appended {
		if len(m) < 1900 || len(m) > 2100 {
			t.Errorf("appended message %d is %d bytes, want about 2000", i, len(m))
		}
	}
	kv := res.KV()
	for _, want := range []string{"mode=imap conns=3 ops=400 ok=", " messages=20 ", " store_errors=" + strconv.Itoa(store.N) + " ", " connect_n=0 connect_errors=0"} {
		if !strings.Contains(kv, want) {
			t.Errorf("KV %q lacks %q", kv, want)
		}
	}
	if s := res.Summary(); !strings.Contains(s, "imap: ") || !strings.Contains(s, "\n  store ") {
		t.Errorf("Summary %q", s)
	}
}

// An empty mailbox: fetch and store turn into appends until the client
// knows a message, and then only ever name UIDs it learnt from APPENDUID
// or, without UIDPLUS, from UID FETCH n:* after each append (the fake
// flags any unknown UID).
func TestIMAPMixLearnsUIDs(t *testing.T) {
	for _, appendUID := range []bool{true, false} {
		t.Run(map[bool]string{true: "APPENDUID", false: "no UIDPLUS"}[appendUID], func(t *testing.T) {
			f := newFake(t, 0)
			f.appendUID = appendUID
			f.start()
			res := runIMAP(t, IMAPOptions{IMAPServer: f.server(), Connections: 2, Count: 200, Seed: 3, Size: 1000,
				Mix: "fetch=5,store=3,append=2"})
			checkIMAPTotals(t, res)
			if res.Total.N != 200 || res.Total.Errors != 0 || res.Messages != 0 {
				t.Errorf("N=%d errors=%d messages=%d, want 200, 0, 0; first errors %v", res.Total.N, res.Total.Errors, res.Messages, res.Total.FirstErrors)
			}
			appends := res.Op(opAppend).N
			if appends < 2 || res.Op(opFetch).N == 0 || res.Op(opStore).N == 0 || res.Op(opNoop).N != 0 {
				t.Errorf("appends=%d fetches=%d stores=%d noops=%d", appends, res.Op(opFetch).N, res.Op(opStore).N, res.Op(opNoop).N)
			}
			if f.count("APPEND") != appends || len(f.appended) != appends {
				t.Errorf("server got %d APPENDs, client counted %d", f.count("APPEND"), appends)
			}
			wantRefresh := 0
			if !appendUID {
				wantRefresh = appends
			}
			if got := f.count("UID FETCH UID"); got != wantRefresh {
				t.Errorf("%d UID FETCH n:* (UID), want %d", got, wantRefresh)
			}
			if f.count("UID FETCH FLAGS") != 0 {
				t.Error("UID FETCH 1:* on an empty mailbox")
			}
		})
	}
}

func TestIMAPMixDuration(t *testing.T) {
	f := newFake(t, 5).start()
	res := runIMAP(t, IMAPOptions{IMAPServer: f.server(), Connections: 2, Duration: 300 * time.Millisecond, Size: 500})
	checkIMAPTotals(t, res)
	// How many operations fit in 300 ms depends on the machine's load:
	// at least one, and the server's count must match the client's.
	if res.Total.N < 1 || res.Total.Errors != 0 {
		t.Errorf("N=%d errors=%d in 300ms, want some and none", res.Total.N, res.Total.Errors)
	}
	if el := res.Total.Elapsed; el < 300*time.Millisecond || el > 10*time.Second {
		t.Errorf("elapsed %v for a 300ms run", el)
	}
	if ops := f.count("NOOP") + f.count("UID FETCH BODY") + f.count("UID STORE") + f.count("UID SEARCH") +
		f.count("APPEND") + f.count("IDLE"); ops != res.Total.N {
		t.Errorf("server got %d operations, client counted %d", ops, res.Total.N)
	}
}

// A client that cannot start is counted once, as a failed connect besides
// the operations, and sits the run out.
func TestIMAPMixConnections(t *testing.T) {
	f := newFake(t, 5)
	f.maxOpen = 2
	f.start()
	res := runIMAP(t, IMAPOptions{IMAPServer: f.server(), Connections: 3, Count: 60, Mix: "noop=1"})
	checkIMAPTotals(t, res)
	if c := res.Op(opConnect); c.Errors != 1 || res.Total.Errors != 1 || res.Op(opNoop).OK != 60 {
		t.Errorf("connect errors=%d total errors=%d noops=%d, want 1, 1, 60", c.Errors, res.Total.Errors, res.Op(opNoop).OK)
	}
	if e := res.Total.FirstErrors; len(e) != 1 || !strings.Contains(e[0].Error(), "greeting") || !strings.Contains(e[0].Error(), "too many connections") {
		t.Errorf("errors %v", e)
	}

	// Every connection fails: no result, an error.
	f2 := newFake(t, 1)
	f2.pass = "other"
	f2.start()
	_, err := RunIMAP(context.Background(), IMAPOptions{IMAPServer: IMAPServer{Addr: f2.addr, TLS: TLSNone, User: "alice@example.test", Password: "wrong"}, Count: 4})
	var ie *imapError
	if err == nil || !errors.As(err, &ie) || !strings.Contains(err.Error(), "LOGIN: NO [AUTHENTICATIONFAILED]") || strings.Contains(err.Error(), "wrong") {
		t.Errorf("wrong password: %v, want LOGIN: NO without the password", err)
	}
}

// A connection the server breaks fails the operation in flight and is
// reconnected for the next one.
func TestIMAPMixReconnects(t *testing.T) {
	f := newFake(t, 5)
	f.hangUpEvery = 10
	f.start()
	res := runIMAP(t, IMAPOptions{IMAPServer: f.server(), Connections: 1, Count: 50, Mix: "noop=1"})
	checkIMAPTotals(t, res)
	// NOOPs 10, 20, 30, 40 and 50 are cut off; after each but the last,
	// the client logs in again.
	if n := res.Op(opNoop); n.OK != 45 || n.Errors != 5 || res.Op(opConnect).N != 0 {
		t.Errorf("noop OK=%d errors=%d, connect failures %d; want 45, 5, 0", n.OK, n.Errors, res.Op(opConnect).N)
	}
	if got := f.count("LOGIN"); got != 5 || res.Total.Dials != 5 {
		t.Errorf("%d LOGINs, %d dials, want 5", got, res.Total.Dials)
	}
	if e := res.Total.FirstErrors; len(e) != 5 || !strings.Contains(e[0].Error(), "op 9: NOOP: EOF") {
		t.Errorf("errors %v", e)
	}
}

func TestIMAPTLS(t *testing.T) {
	m, err := tlsutil.New("", "", t.TempDir(), "localhost", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, mode := range []string{TLSStartTLS, TLSImplicit} {
		t.Run(mode, func(t *testing.T) {
			f := newFake(t, 4)
			f.tlsConf = m.ServerConfig()
			f.implicitTLS = mode == TLSImplicit
			f.start()
			res := runIMAP(t, IMAPOptions{IMAPServer: f.server(), Connections: 2, Count: 30})
			checkIMAPTotals(t, res)
			if res.Total.Errors != 0 || res.Total.N != 30 {
				t.Errorf("N=%d errors=%d: %v", res.Total.N, res.Total.Errors, res.Total.FirstErrors)
			}
			if mode == TLSStartTLS && f.count("STARTTLS") != 2 {
				t.Errorf("%d STARTTLS, want 2", f.count("STARTTLS"))
			}
			// Without Insecure, the self-signed certificate is refused.
			srv := f.server()
			srv.Insecure = false
			if _, err := RunIMAP(context.Background(), IMAPOptions{IMAPServer: srv, Count: 1}); err == nil || !strings.Contains(err.Error(), "certificate") {
				t.Errorf("untrusted certificate: %v", err)
			}
		})
	}
}

// Passwords that need quoting or a literal reach the server intact; a
// literal is synchronising unless the greeting offered LITERAL+.
func TestIMAPLoginQuoting(t *testing.T) {
	for _, tc := range []struct {
		pass, preCaps string
		sync, nonSync int
	}{
		{pass: "plain", preCaps: "IMAP4rev1"},
		{pass: `with space "quote" and \backslash`, preCaps: "IMAP4rev1"},
		{pass: "pässwörd 感謝", preCaps: "IMAP4rev1", sync: 1},
		{pass: "pässwörd 感謝", preCaps: "IMAP4rev1 LITERAL+", nonSync: 1},
	} {
		f := newFake(t, 0)
		f.pass, f.preCaps = tc.pass, tc.preCaps
		f.start()
		res := runIMAP(t, IMAPOptions{IMAPServer: f.server(), Count: 1, Mix: "noop=1"})
		if res.Total.OK != 1 || f.count("LOGIN") != 1 {
			t.Errorf("password %q: %d ok, %d LOGIN; errors %v", tc.pass, res.Total.OK, f.count("LOGIN"), res.Total.FirstErrors)
		}
		f.mu.Lock()
		if f.syncLits != tc.sync || f.plusLits != tc.nonSync {
			t.Errorf("password %q with %q: %d sync and %d non-sync literals, want %d and %d", tc.pass, tc.preCaps, f.syncLits, f.plusLits, tc.sync, tc.nonSync)
		}
		f.mu.Unlock()
	}
}

func TestIMAPOptionErrors(t *testing.T) {
	good := IMAPServer{Addr: "127.0.0.1:1", User: "u"}
	for _, o := range []IMAPOptions{
		{IMAPServer: IMAPServer{Addr: "no-port", User: "u"}},
		{IMAPServer: IMAPServer{Addr: "127.0.0.1:1"}}, // no user
		{IMAPServer: IMAPServer{Addr: "127.0.0.1:1", User: "u", TLS: "ssl"}},
		{IMAPServer: IMAPServer{Addr: "127.0.0.1:1", User: "u", SourceIPs: []string{"nowhere"}}},
		{IMAPServer: good, Count: -1},
		{IMAPServer: good, Mix: "fetch=1,delete=2"},
		{IMAPServer: good, Mix: "fetch=0"},
		{IMAPServer: good, Word: "a\r\nb"},
		{IMAPServer: good, Mailbox: "Boîte"},
	} {
		if _, err := RunIMAP(context.Background(), o); err == nil || !strings.HasPrefix(err.Error(), "imap: ") || strings.Contains(err.Error(), "connect:") {
			t.Errorf("RunIMAP(%+v): %v, want an option error", o, err)
		}
	}
}

func TestIMAPSourceIPs(t *testing.T) {
	f := newFake(t, 2).start()
	srv := f.server()
	srv.SourceIPs = []string{"127.0.0.1", "127.0.0.2"}
	res := runIMAP(t, IMAPOptions{IMAPServer: srv, Connections: 4, Count: 8, Mix: "noop=1"})
	if res.Total.OK != 8 {
		t.Errorf("OK=%d, errors %v", res.Total.OK, res.Total.FirstErrors)
	}
}
