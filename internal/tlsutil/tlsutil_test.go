package tlsutil

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// serve accepts TLS connections on loopback with cfg until the test ends,
// completing each handshake and then closing the connection.
func serve(t *testing.T, cfg *tls.Config) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				if err := c.(*tls.Conn).Handshake(); err != nil {
					return
				}
				io.Copy(io.Discard, c) // until the client closes
			}()
		}
	}()
	return ln.Addr().String()
}

// dial handshakes with addr and returns the certificate the server sent.
func dial(addr string, cfg *tls.Config) (*x509.Certificate, *tls.ConnectionState, error) {
	c, err := tls.Dial("tcp", addr, cfg)
	if err != nil {
		return nil, nil, err
	}
	defer c.Close()
	st := c.ConnectionState()
	return st.PeerCertificates[0], &st, nil
}

func insecure() *tls.Config { return &tls.Config{InsecureSkipVerify: true} }

func newManager(t *testing.T, certFile, keyFile, dataDir, host string) *Manager {
	t.Helper()
	m, err := New(certFile, keyFile, dataDir, host, nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return m
}

func TestSelfSignedGeneratedAndReused(t *testing.T) {
	dataDir := t.TempDir()
	m1 := newManager(t, "", "", dataDir, "mail.example.test")
	leaf := m1.Leaf()

	if _, ok := leaf.PublicKey.(*ecdsa.PublicKey); !ok || leaf.PublicKey.(*ecdsa.PublicKey).Curve != elliptic.P256() {
		t.Errorf("key is %T, want ECDSA P-256", leaf.PublicKey)
	}
	for _, n := range []string{"mail.example.test", "localhost"} {
		if !slices.Contains(leaf.DNSNames, n) {
			t.Errorf("DNSNames %v lack %s", leaf.DNSNames, n)
		}
	}
	for _, ip := range []string{"127.0.0.1", "::1"} {
		if !slices.ContainsFunc(leaf.IPAddresses, func(a net.IP) bool { return a.Equal(net.ParseIP(ip)) }) {
			t.Errorf("IPAddresses %v lack %s", leaf.IPAddresses, ip)
		}
	}
	if v := leaf.NotAfter.Sub(leaf.NotBefore); v < 9*365*24*time.Hour {
		t.Errorf("validity %v, want about ten years", v)
	}

	dir := filepath.Join(dataDir, "tls")
	checkMode := func(p string, want os.FileMode) {
		t.Helper()
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("%s mode %o, want %o", p, got, want)
		}
	}
	checkMode(dir, 0o700)
	checkMode(filepath.Join(dir, "selfsigned.key"), 0o600)
	checkMode(filepath.Join(dir, "selfsigned.crt"), 0o644)
	if ents, _ := os.ReadDir(dir); len(ents) != 2 {
		t.Errorf("tls dir holds %d entries, want 2 (no temp files left)", len(ents))
	}

	// A second start reuses the stored certificate.
	m2 := newManager(t, "", "", dataDir, "MAIL.example.test.")
	if m2.Leaf().SerialNumber.Cmp(leaf.SerialNumber) != 0 {
		t.Errorf("second New generated a new certificate (serial %x, was %x)", m2.Leaf().SerialNumber, leaf.SerialNumber)
	}

	// A new hostname gets a new certificate.
	m3 := newManager(t, "", "", dataDir, "other.example.test")
	if m3.Leaf().SerialNumber.Cmp(leaf.SerialNumber) == 0 || !slices.Contains(m3.Leaf().DNSNames, "other.example.test") {
		t.Errorf("hostname change kept the old certificate: %v", m3.Leaf().DNSNames)
	}

	// An unparseable file is replaced.
	if err := os.WriteFile(filepath.Join(dir, "selfsigned.crt"), []byte("garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	m4 := newManager(t, "", "", dataDir, "other.example.test")
	if m4.Leaf().SerialNumber.Cmp(m3.Leaf().SerialNumber) == 0 {
		t.Error("corrupt certificate file was not regenerated")
	}
}

func TestSelfSignedForIP(t *testing.T) {
	m := newManager(t, "", "", t.TempDir(), "192.0.2.7")
	leaf := m.Leaf()
	if len(leaf.DNSNames) != 0 || len(leaf.IPAddresses) != 1 || !leaf.IPAddresses[0].Equal(net.ParseIP("192.0.2.7")) {
		t.Errorf("IP hostname: DNSNames %v IPAddresses %v, want only 192.0.2.7", leaf.DNSNames, leaf.IPAddresses)
	}
}

// A client that trusts the self-signed certificate verifies it by name
// over a real handshake.
func TestHandshakeVerifies(t *testing.T) {
	m := newManager(t, "", "", t.TempDir(), "mail.example.test")
	addr := serve(t, m.ServerConfig())

	roots := x509.NewCertPool()
	roots.AddCert(m.Leaf())
	for _, name := range []string{"mail.example.test", "localhost"} {
		cert, st, err := dial(addr, &tls.Config{RootCAs: roots, ServerName: name})
		if err != nil {
			t.Fatalf("verified handshake as %s: %v", name, err)
		}
		if cert.SerialNumber.Cmp(m.Leaf().SerialNumber) != 0 {
			t.Errorf("served serial %x, want %x", cert.SerialNumber, m.Leaf().SerialNumber)
		}
		if st.Version != tls.VersionTLS13 {
			t.Errorf("negotiated version %x, want TLS 1.3", st.Version)
		}
	}
	if _, _, err := dial(addr, &tls.Config{RootCAs: roots, ServerName: "wrong.example"}); err == nil {
		t.Error("handshake verified a name the certificate does not carry")
	}
	// TLS 1.2 still works, with an AEAD suite.
	_, st, err := dial(addr, &tls.Config{InsecureSkipVerify: true, MaxVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatalf("TLS 1.2 handshake: %v", err)
	}
	if !slices.Contains(cipherSuites, st.CipherSuite) {
		t.Errorf("TLS 1.2 negotiated %s", tls.CipherSuiteName(st.CipherSuite))
	}
}

func TestOldProtocolsAndSuitesRefused(t *testing.T) {
	m := newManager(t, "", "", t.TempDir(), "mail.example.test")
	addr := serve(t, m.ServerConfig())

	old := &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}
	if _, _, err := dial(addr, old); err == nil || !strings.Contains(err.Error(), "protocol version") {
		t.Errorf("TLS 1.1 client: err = %v, want the server to refuse the protocol version", err)
	}
	cbc := &tls.Config{InsecureSkipVerify: true, MaxVersion: tls.VersionTLS12,
		CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256, tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA}}
	if _, _, err := dial(addr, cbc); err == nil {
		t.Error("TLS 1.2 client offering only CBC suites was accepted")
	}

	cfg := m.ServerConfig()
	if cfg.MinVersion != tls.VersionTLS12 {
		t.Errorf("MinVersion %x", cfg.MinVersion)
	}
	for _, id := range cfg.CipherSuites {
		name := tls.CipherSuiteName(id)
		if !(strings.Contains(name, "ECDHE") && (strings.Contains(name, "GCM") || strings.Contains(name, "CHACHA20_POLY1305"))) {
			t.Errorf("offered suite %s", name)
		}
	}
}

// writePair writes a certificate with the given serial and a fresh key to
// certFile/keyFile, as an operator's renewal would.
func writePair(t *testing.T, certFile, keyFile string, serial int64) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      pkix.Name{CommonName: "mail.example.test"},
		DNSNames:     []string{"mail.example.test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := writeAtomic(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := writeAtomic(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestReload(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writePair(t, certFile, keyFile, 1001)

	m := newManager(t, certFile, keyFile, t.TempDir(), "mail.example.test")
	addr := serve(t, m.ServerConfig())
	serialSeen := func() int64 {
		t.Helper()
		cert, _, err := dial(addr, insecure())
		if err != nil {
			t.Fatalf("handshake: %v", err)
		}
		return cert.SerialNumber.Int64()
	}
	if got := serialSeen(); got != 1001 {
		t.Fatalf("served serial %d, want 1001", got)
	}

	// A renewed certificate applies to the next handshake on the same
	// listener and config.
	writePair(t, certFile, keyFile, 1002)
	if err := m.Reload(); err != nil {
		t.Fatalf("Reload: %v", err)
	}
	if got := serialSeen(); got != 1002 {
		t.Errorf("after reload served serial %d, want 1002", got)
	}
	if m.Leaf().SerialNumber.Int64() != 1002 {
		t.Errorf("Leaf serial %d, want 1002", m.Leaf().SerialNumber.Int64())
	}

	// A broken file is reported and the working certificate stays.
	if err := os.WriteFile(certFile, []byte("-----BEGIN CERTIFICATE-----\nbroken\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := m.Reload(); err == nil {
		t.Error("Reload of a broken certificate returned no error")
	}
	if got := serialSeen(); got != 1002 {
		t.Errorf("after failed reload served serial %d, want 1002", got)
	}
	// So does a key that belongs to another certificate.
	writePair(t, certFile, filepath.Join(dir, "other.key"), 1003)
	if err := m.Reload(); err == nil {
		t.Error("Reload of a mismatched key pair returned no error")
	}
	if got := serialSeen(); got != 1002 {
		t.Errorf("after mismatched reload served serial %d, want 1002", got)
	}
}

func TestNewErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := New(filepath.Join(dir, "missing.pem"), filepath.Join(dir, "missing.key"), dir, "h", nil); err == nil {
		t.Error("New with missing configured files: no error")
	}
	if _, err := New(filepath.Join(dir, "cert.pem"), "", dir, "h", nil); err == nil {
		t.Error("New with cert_file but no key_file: no error")
	}
	// A data dir that cannot hold the tls directory.
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := New("", "", file, "h", nil); err == nil {
		t.Error("New with a file as data dir: no error")
	}
}
