package interop

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/yizhan-mail/yizhan/test/testenv"
)

// postfixInstance is a private Postfix (Debian's package) run from a
// temporary config and queue directory, its smtpd bound to 127.0.0.4:port
// (inet_interfaces stays loopback-only: Postfix checks that list against
// the interfaces' own addresses, and lo has only 127.0.0.1). It
// accepts mail for pf.test into Maildirs under dir/mail, and relays mail
// for a.test to Yizhan at [127.0.0.2]:port.
type postfixInstance struct {
	dir  string
	conf string
	log  string
}

func startPostfix(t *testing.T, port int) *postfixInstance {
	t.Helper()
	bin := "/usr/sbin/postfix"
	if _, err := os.Stat(bin); err != nil {
		testenv.Unavailable(t, "postfix is not installed (%v); ./test.sh installs it", err)
	}
	if os.Getuid() != 0 {
		testenv.Unavailable(t, "a private Postfix instance needs root")
	}
	dir := t.TempDir()
	// Postfix's processes run as postfix and nobody: they must reach
	// into the test's directory.
	for d := dir; d != os.TempDir() && d != "/"; d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	p := &postfixInstance{dir: dir, conf: filepath.Join(dir, "etc"), log: filepath.Join(dir, "postfix.log")}
	mail := filepath.Join(dir, "mail")
	for _, d := range []string{p.conf, filepath.Join(dir, "spool"), filepath.Join(dir, "data"), mail} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chown(mail, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	// postfix check wants its data directory owned by the mail owner.
	pu, err := user.Lookup("postfix")
	if err != nil {
		testenv.Unavailable(t, "no postfix user (%v): the package is not installed properly", err)
	}
	puid, _ := strconv.Atoi(pu.Uid)
	if err := os.Chown(filepath.Join(dir, "data"), puid, -1); err != nil {
		t.Fatal(err)
	}
	main := fmt.Sprintf(`compatibility_level = 3.6
config_directory = %[1]s/etc
queue_directory = %[1]s/spool
data_directory = %[1]s/data
maillog_file = %[1]s/postfix.log
maillog_file_prefixes = /var, /dev/stdout, %[1]s
myhostname = mx.pf.test
mydomain = pf.test
myorigin = $myhostname
mydestination =
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
alias_maps =
alias_database =
biff = no
smtp_dns_support_level = disabled
smtp_host_lookup = native
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
relay_domains = a.test
transport_maps = texthash:%[1]s/etc/transport
virtual_mailbox_domains = pf.test
virtual_mailbox_base = %[1]s/mail
virtual_mailbox_maps = texthash:%[1]s/etc/vmailbox
virtual_uid_maps = static:65534
virtual_gid_maps = static:65534
smtp_tls_security_level = may
`, dir)
	// Every service runs outside a chroot (the instance lives in a
	// temporary directory); the public one is bound to 127.0.0.4 only.
	master := fmt.Sprintf(`127.0.0.4:%d inet n - n - - smtpd
pickup    unix  n - n 60 1 pickup
cleanup   unix  n - n -  0 cleanup
qmgr      unix  n - n 300 1 qmgr
rewrite   unix  - - n -  - trivial-rewrite
bounce    unix  - - n -  0 bounce
defer     unix  - - n -  0 bounce
trace     unix  - - n -  0 bounce
verify    unix  - - n -  1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n -  - proxymap
smtp      unix  - - n -  - smtp
relay     unix  - - n -  - smtp
showq     unix  n - n -  - showq
error     unix  - - n -  - error
retry     unix  - - n -  - error
discard   unix  - - n -  - discard
virtual   unix  - n n -  - virtual
anvil     unix  - - n -  1 anvil
scache    unix  - - n -  1 scache
postlog   unix-dgram n - n - 1 postlogd
tlsmgr    unix  - - n 1000? 1 tlsmgr
`, port)
	files := map[string]string{
		"main.cf":   main,
		"master.cf": master,
		"vmailbox":  "carl@pf.test carl/\n",
		"transport": fmt.Sprintf("a.test smtp:[127.0.0.2]:%d\n", port),
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(p.conf, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, cmd := range []string{"check", "start"} {
		if out, err := run(t, "", bin, "-c", p.conf, cmd); err != nil {
			b, _ := os.ReadFile(p.log)
			t.Fatalf("postfix %s: %v\n%s\npostfix log:\n%s", cmd, err, out, indent(string(b)))
		}
	}
	t.Cleanup(func() {
		_, _ = run(t, "", bin, "-c", p.conf, "stop")
		if t.Failed() {
			if b, err := os.ReadFile(p.log); err == nil {
				t.Logf("postfix log:\n%s", indent(string(b)))
			}
		}
	})
	return p
}

// maildir returns the messages delivered to a pf.test user.
func (p *postfixInstance) maildir(t *testing.T, user string) [][]byte {
	t.Helper()
	var out [][]byte
	files, _ := filepath.Glob(filepath.Join(p.dir, "mail", user, "new", "*"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// TestPostfixAsNextHop: Yizhan finds pf.test's MX and hands a submitted
// message to Postfix, which delivers it.
// TestPostfixAsPreviousHop: Postfix relays mail for a.test into Yizhan.
func TestPostfixNeighbours(t *testing.T) {
	port := testenv.SharedPort(t, "127.0.0.2", "127.0.0.4")
	z := testenv.StartDNS(t)
	z.Set(t, "pf.test. 60 IN MX 10 mx.pf.test.", "mx.pf.test. 60 IN A 127.0.0.4")
	yz := testenv.Start(t, testenv.Options{
		Listeners: []string{testenv.SMTP, testenv.Submission, testenv.POP3S},
		Addrs:     map[string]string{testenv.SMTP: "127.0.0.2:" + strconv.Itoa(port), testenv.Submission: "127.0.0.2:0", testenv.POP3S: "127.0.0.2:0"},
		Hostname:  "mx.a.test",
		Extra:     fmt.Sprintf("[dns]\nnameserver = %q\n\n[delivery]\nremote_port = %d\n\n[queue]\nretry_schedule = [\"1s\"]\n", z.Addr, port),
	})
	yz.AddDomain(t, "a.test")
	yz.AddUser(t, "alice@a.test", alicePW)
	pf := startPostfix(t, port)

	t.Run("next hop", func(t *testing.T) {
		c, err := testenv.DialSubmission(yz.Addr(t, testenv.Submission), "client.a.test", "alice@a.test", alicePW)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.Send("alice@a.test", []string{"carl@pf.test"}, []byte("From: alice@a.test\r\nTo: carl@pf.test\r\nSubject: to postfix\r\n\r\nover the wire\r\n")); err != nil {
			t.Fatal(err)
		}
		_ = c.Quit()
		deadline := time.Now().Add(time.Minute) // a guard, not an expectation
		for {
			for _, m := range pf.maildir(t, "carl") {
				if bytes.Contains(m, []byte("Subject: to postfix")) {
					if !bytes.Contains(m, []byte("by mx.a.test (Yizhan)")) || !bytes.Contains(m, []byte("Return-Path: <alice@a.test>")) {
						t.Errorf("delivered by Postfix without our trace or sender:\n%s", m)
					}
					if !bytes.Contains(m, []byte("with ESMTPS")) {
						t.Errorf("Yizhan did not use STARTTLS with Postfix:\n%s", m)
					}
					return
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("Postfix has not delivered; Yizhan's queue:\n%s", yz.MustAdmin(t, "", "queue", "list"))
			}
			time.Sleep(100 * time.Millisecond)
		}
	})

	t.Run("previous hop", func(t *testing.T) {
		// Into Postfix on 127.0.0.4 from the loopback network, for a.test:
		// Postfix's transport map sends it to Yizhan.
		c, err := testenv.DialSMTP(fmt.Sprintf("127.0.0.4:%d", port))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.Hello("client.pf.test"); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Send("carl@pf.test", []string{"alice@a.test"}, []byte("From: carl@pf.test\r\nTo: alice@a.test\r\nSubject: from postfix\r\n\r\nback again\r\n")); err != nil {
			t.Fatal(err)
		}
		_ = c.Quit()
		deadline := time.Now().Add(time.Minute)
		for {
			pc, err := testenv.DialPOP3S(yz.Addr(t, testenv.POP3S))
			if err != nil {
				t.Fatal(err)
			}
			if err := pc.Login("alice@a.test", alicePW); err != nil {
				t.Fatal(err)
			}
			n, _, _ := pc.Stat()
			for i := 1; i <= n; i++ {
				m, err := pc.Retr(i)
				if err != nil {
					t.Fatal(err)
				}
				if bytes.Contains(m, []byte("Subject: from postfix")) {
					_ = pc.Quit()
					if !bytes.Contains(m, []byte("by mx.pf.test (Postfix)")) || !bytes.Contains(m, []byte("Return-Path: <carl@pf.test>")) {
						t.Errorf("relayed by Postfix without its trace or sender:\n%s", m)
					}
					return
				}
			}
			_ = pc.Quit()
			if time.Now().After(deadline) {
				out, _ := exec.Command("/usr/sbin/postqueue", "-c", pf.conf, "-p").CombinedOutput()
				t.Fatalf("Yizhan has not received it; Postfix's queue:\n%s", strings.TrimSpace(string(out)))
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
}
