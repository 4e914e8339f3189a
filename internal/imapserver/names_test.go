package imapserver_test

import "testing"

// TestDotMailboxNames: "." and ".." are not hierarchy levels (a name such
// as INBOX/.. would alias another mailbox in any export to a directory
// tree, and clients treat them as path steps).
func TestDotMailboxNames(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	c := e.login(alice)
	for _, name := range []string{`".."`, `"."`, `"INBOX/.."`, `"INBOX/../.."`, `"Work/./Old"`, `"../Work"`} {
		prefix(t, "CREATE "+name, c.do("CREATE "+name).status(), "NO [CANNOT]")
	}
	c.ok("CREATE Work")
	prefix(t, "RENAME to ..", c.do(`RENAME Work "Work/.."`).status(), "NO [CANNOT]")
	lines(t, "LIST", c.ok(`LIST "" "*.*"`))
	// Dots inside a name are ordinary characters.
	c.ok(`CREATE "a.b/..c/c.."`)
}
