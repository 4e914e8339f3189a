package daemon

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log/slog"
	"maps"
	"math/big"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/yizhan-mail/yizhan/internal/config"
)

// startConfig is start with a caller-supplied configuration.
func startConfig(t *testing.T, cfg config.Config) *instance {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	w := &lineWriter{addrs: map[string]string{}, ready: make(chan struct{})}
	done := make(chan error, 1)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	go func() { done <- Run(ctx, cfg, config.Source{Embedded: true}, w, log) }()
	select {
	case <-w.ready:
	case err := <-done:
		cancel()
		t.Fatalf("daemon exited: %v", err)
	}
	w.mu.Lock()
	addrs := maps.Clone(w.addrs)
	w.mu.Unlock()
	in := &instance{addrs: addrs, cancel: cancel, done: done}
	t.Cleanup(in.stop)
	return in
}

// testCert returns a PEM certificate and key, self-signed, with serial.
func testCert(t *testing.T, serial int64) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      pkix.Name{CommonName: "mail.example.test"},
		DNSNames:     []string{"mail.example.test"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(90 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
}

// replaceFile writes data to path by rename, so a reload never reads a
// half-written file.
func replaceFile(t *testing.T, path string, data []byte) {
	t.Helper()
	tmp := path + ".new"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// servedSerial handshakes with addr and returns the leaf's serial number.
func servedSerial(t *testing.T, addr string) *big.Int {
	t.Helper()
	c, err := tls.Dial("tcp", addr, insecure)
	if err != nil {
		t.Fatalf("TLS handshake with %s: %v", addr, err)
	}
	defer c.Close()
	certs := c.ConnectionState().PeerCertificates
	if len(certs) == 0 {
		t.Fatal("no peer certificate")
	}
	return certs[0].SerialNumber
}

func TestSIGHUPReloadsCertificate(t *testing.T) {
	dir := t.TempDir()
	tlsDir := t.TempDir()
	certFile, keyFile := filepath.Join(tlsDir, "cert.pem"), filepath.Join(tlsDir, "key.pem")
	certA, keyA := testCert(t, 0xA)
	certB, keyB := testCert(t, 0xB)
	replaceFile(t, keyFile, keyA)
	replaceFile(t, certFile, certA)

	// Belt and braces: the daemon catches SIGHUP itself, but should it not
	// (yet), this keeps the default action from killing the test binary.
	guard := make(chan os.Signal, 1)
	signal.Notify(guard, syscall.SIGHUP)
	defer signal.Stop(guard)

	cfg := testConfig(dir)
	cfg.TLS.CertFile, cfg.TLS.KeyFile = certFile, keyFile
	in := startConfig(t, cfg)
	addr := in.addrs["submissions"]
	if addr == "" {
		t.Fatalf("no submissions listener in %v", in.addrs)
	}
	if got := servedSerial(t, addr); got.Cmp(big.NewInt(0xA)) != 0 {
		t.Fatalf("served serial %v, want A", got)
	}
	if got := servedSerial(t, in.addrs["pop3s"]); got.Cmp(big.NewInt(0xA)) != 0 {
		t.Fatalf("pop3s served serial %v, want A", got)
	}

	replaceFile(t, keyFile, keyB)
	replaceFile(t, certFile, certB)
	// Poll: signal delivery and the reload are asynchronous. Re-sending is
	// harmless (a reload of the same files) and covers a signal that was
	// coalesced or arrived before the handler was in place.
	var got *big.Int
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		if got = servedSerial(t, addr); got.Cmp(big.NewInt(0xB)) == 0 {
			break
		}
	}
	if got.Cmp(big.NewInt(0xB)) != 0 {
		t.Fatalf("after SIGHUP served serial %v, want B", got)
	}
	if got := servedSerial(t, in.addrs["pop3s"]); got.Cmp(big.NewInt(0xB)) != 0 {
		t.Fatalf("pop3s after SIGHUP served serial %v, want B", got)
	}

	// A broken renewal keeps the current certificate.
	replaceFile(t, certFile, []byte("not a certificate"))
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		time.Sleep(20 * time.Millisecond)
		if got := servedSerial(t, addr); got.Cmp(big.NewInt(0xB)) != 0 {
			t.Fatalf("after a failed reload served serial %v, want B", got)
		}
	}
}
