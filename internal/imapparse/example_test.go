package imapparse_test

import (
	"bufio"
	"errors"
	"fmt"
	"strings"

	"github.com/yizhan-mail/yizhan/internal/imapparse"
)

// A session loop: synchronising literals get "+ Ready" through the callback,
// and each kind of error gets its answer while the session goes on.
func ExampleReader() {
	client := "a1 LOGIN {5}\r\nalice secret\r\n" +
		"a2 SELECT &ZeVnLIqe-\r\n" +
		"a3 FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (Subject)])\r\n" +
		"a4 FETCH 1 (BODY[MIME])\r\n" +
		"a5 APPEND INBOX {99999999}\r\n" +
		"a6 LOGOUT\r\n"
	var out strings.Builder
	cont := func() error { out.WriteString("+ Ready\n"); return nil }
	r := imapparse.NewReader(bufio.NewReader(strings.NewReader(client)), cont, imapparse.Limits{MaxAppend: 1 << 20})
	for {
		cmd, err := r.ReadCommand()
		var (
			pe *imapparse.ParseError
			tb *imapparse.TooBigError
		)
		switch {
		case errors.As(err, &pe):
			fmt.Fprintf(&out, "%s BAD %s\n", pe.Tag, pe.Msg)
			continue
		case errors.As(err, &tb):
			fmt.Fprintf(&out, "%s NO [TOOBIG] message too big\n", tb.Tag)
			continue
		case err != nil:
			fmt.Print(out.String())
			fmt.Println("session ends:", err)
			return
		}
		switch a := cmd.Args.(type) {
		case *imapparse.Login:
			fmt.Fprintf(&out, "%s LOGIN user %q\n", cmd.Tag, a.User)
		case *imapparse.Select:
			fmt.Fprintf(&out, "%s SELECT %q\n", cmd.Tag, a.Mailbox)
		case *imapparse.Fetch:
			fmt.Fprintf(&out, "%s FETCH %s %v\n", cmd.Tag, a.Set, a.Items)
		default:
			fmt.Fprintf(&out, "%s %s\n", cmd.Tag, cmd.Name)
		}
	}
	// Output:
	// + Ready
	// a1 LOGIN user "alice"
	// a2 SELECT "日本語"
	// a3 FETCH 1:* [FLAGS BODY.PEEK[HEADER.FIELDS (Subject)]]
	// a4 BAD MIME needs a part number
	// a5 NO [TOOBIG] message too big
	// a6 LOGOUT
	// session ends: EOF
}
