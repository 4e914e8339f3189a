package imapserver_test

import (
	"fmt"
	"strings"
	"testing"
)

// TestListPatternAttack (issue 11 item 6): LIST "" "<60,000 *>" took
// 24.7 CPU-seconds (the pattern was a regular expression with a state per
// star). The stars are one wildcard now, and matching costs a few steps
// per byte of the mailbox names; patterns with more wildcards than any
// client needs are refused with NO [LIMIT] (RFC 5530 §3).
func TestListPatternAttack(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	c := e.login(alice)
	const folders = 40
	for i := range folders {
		c.ok(fmt.Sprintf("CREATE Folder/with/a/rather/long/name%d", i))
	}
	all := c.ok(`LIST "" *`)
	nameBytes := 0
	for _, l := range all.untagged {
		nameBytes += len(l)
	}

	before := e.srv.Work().ListSteps
	r := c.ok(`LIST "" ` + strings.Repeat("*", 60000))
	eq(t, "mailboxes listed by 60,000 stars", len(r.untagged), len(all.untagged))
	steps := e.srv.Work().ListSteps - before
	if steps <= 0 || steps > int64(8*(nameBytes+len(all.untagged))) {
		t.Errorf("LIST of 60,000 stars took %d matching steps over %d bytes of names", steps, nameBytes)
	}

	lines(t, "matching with a few wildcards", c.ok(`LIST "" "F*/%/a/*name1"`),
		`* LIST (\HasNoChildren) "/" "Folder/with/a/rather/long/name1"`)
	eq(t, "lines for %/%", len(c.ok(`LIST "" "%/%"`).untagged), 1)
	for _, tc := range []struct{ what, cmd, want string }{
		{"33 wildcards", `LIST "" "` + strings.Repeat("*a", 33) + `"`, "NO [LIMIT]"},
		{"40,000 wildcards", `LIST "" "` + strings.Repeat("%x*", 20000) + `"`, "NO [LIMIT]"},
		{"33 patterns", `LIST "" (` + strings.TrimSpace(strings.Repeat(`"a*" `, 33)) + `)`, "NO [LIMIT]"},
		{"32 patterns", `LIST "" (` + strings.TrimSpace(strings.Repeat(`"a*" `, 32)) + `)`, "OK"},
		{"32 wildcards", `LIST "" "` + strings.Repeat("*a", 32) + `"`, "OK"},
	} {
		if r := c.do(tc.cmd); !strings.HasPrefix(r.status(), tc.want) {
			t.Errorf("LIST with %s: %.200s, want %s", tc.what, r.tagged, tc.want)
		}
	}
}
