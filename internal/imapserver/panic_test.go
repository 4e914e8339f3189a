package imapserver_test

import (
	"context"
	"strings"
	"testing"

	"github.com/yizhan-mail/yizhan/internal/imapserver"
)

// panickingIndexer is a full-text indexer with a bug.
type panickingIndexer struct{}

func (panickingIndexer) Sync(context.Context, int64) error { panic("panickingIndexer: a bug") }

// TestPanicEndsOnlyItsSession (issue 11 item 7): a handler that panics
// (here the indexer, in SEARCH BODY) took the whole process down. Now the
// client gets * BYE [SERVERBUG] and is disconnected, the panic is counted,
// and a session open meanwhile and a new one are served as before.
func TestPanicEndsOnlyItsSession(t *testing.T) {
	e := newEnv(t, func(c *imapserver.Config) { c.Indexer = panickingIndexer{} })
	e.deliver(simpleMsg("hello", "world"), delivery{})
	other := e.login(bob)
	other.ok("SELECT INBOX")

	c := e.login(alice)
	c.ok("SELECT INBOX")
	tag := c.nextTag()
	c.send(tag + " SEARCH BODY world\r\n")
	if l := c.line(); !strings.HasPrefix(l, "* BYE [SERVERBUG] ") {
		t.Fatalf("after a panic in SEARCH: %q, want * BYE [SERVERBUG]", l)
	}
	if !c.closed() {
		t.Fatal("the connection stayed open after BYE")
	}

	other.ok("NOOP")
	again := e.login(alice)
	r := again.ok("SELECT INBOX")
	if !r.has("* 1 EXISTS") {
		t.Errorf("SELECT after the panic:\n%s", r)
	}
	eq(t, "Panics()", e.srv.Panics(), 1)
}
