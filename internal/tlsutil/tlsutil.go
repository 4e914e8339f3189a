// Package tlsutil provides the server side of TLS for every Yizhan listener
// (STARTTLS on SMTP, IMAP and POP3, and the implicit-TLS ports).
//
// The certificate comes from the configured cert_file/key_file, or, when
// both are empty, from a self-signed ECDSA P-256 certificate for the
// hostname that is generated once into data_dir/tls/ and reused on later
// starts, so a first run works without any PKI and clients that pinned the
// certificate keep working across restarts.
//
// The certificate is served through tls.Config.GetCertificate, so Reload
// (on SIGHUP, after a renewal) applies to every new handshake without
// restarting listeners or dropping sessions.
package tlsutil

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"
)

const (
	// selfSignedValidity is long because nobody renews a self-signed
	// certificate: it exists so a fresh install speaks TLS at all.
	selfSignedValidity = 10 * 365 * 24 * time.Hour

	// clockSkew backdates NotBefore so clients whose clock runs a little
	// behind accept a certificate generated a moment ago.
	clockSkew = time.Hour

	selfSignedCert = "selfsigned.crt"
	selfSignedKey  = "selfsigned.key"
)

// cipherSuites are the TLS 1.2 suites offered: forward secret (ECDHE) and
// AEAD only (AES-GCM, ChaCha20-Poly1305), per RFC 7525 §4.2 and RFC 8996's
// retirement of older protocol versions. Both ECDSA and RSA variants are
// listed because an operator's certificate may be either. TLS 1.3 suites
// are not configurable in Go and are all AEAD.
var cipherSuites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// Manager holds the current server certificate and hands it to handshakes.
// It is safe for concurrent use.
type Manager struct {
	certFile, keyFile string // configured files; both empty = self-signed
	dataDir           string // self-signed files live in dataDir/tls
	hostname          string // name the self-signed certificate is for
	log               *slog.Logger

	cert atomic.Pointer[tls.Certificate] // swapped whole by Reload; Leaf always set
}

// New loads the configured certificate, or with certFile and keyFile both
// empty, loads or generates the self-signed one for hostname under dataDir.
// A nil logger discards.
func New(certFile, keyFile, dataDir, hostname string, logger *slog.Logger) (*Manager, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if (certFile == "") != (keyFile == "") {
		return nil, errors.New("tlsutil: cert_file and key_file must be set together")
	}
	hostname = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(hostname)), ".")
	if hostname == "" {
		hostname = "localhost"
	}
	m := &Manager{certFile: certFile, keyFile: keyFile, dataDir: dataDir, hostname: hostname, log: logger}
	if err := m.Reload(); err != nil {
		return nil, err
	}
	return m, nil
}

// ServerConfig returns a TLS configuration for one listener. Each call
// returns a fresh *tls.Config (callers may set NextProtos and the like);
// all of them share the Manager's current certificate.
func (m *Manager) ServerConfig() *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS12, // RFC 8996: TLS 1.0 and 1.1 are deprecated
		CipherSuites: cipherSuites,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return m.cert.Load(), nil
		},
	}
}

// Leaf returns the certificate currently served.
func (m *Manager) Leaf() *x509.Certificate {
	return m.cert.Load().Leaf
}

// Reload re-reads the certificate: the configured files, or the self-signed
// files (generating them if they are missing, unusable or for another
// hostname). On error the certificate served so far stays in place, so a
// half-copied renewal never takes TLS down.
func (m *Manager) Reload() error {
	var (
		c   *tls.Certificate
		err error
	)
	if m.certFile != "" {
		c, err = loadPair(m.certFile, m.keyFile)
		if err != nil {
			err = fmt.Errorf("tlsutil: load configured certificate: %w", err)
		}
	} else {
		c, err = m.selfSigned()
	}
	if err != nil {
		if m.cert.Load() != nil {
			m.log.Error("tls: reload failed; keeping the current certificate", "err", err)
		}
		return err
	}
	m.cert.Store(c)
	m.log.Info("tls: certificate loaded", "subject", c.Leaf.Subject.CommonName,
		"names", c.Leaf.DNSNames, "serial", c.Leaf.SerialNumber.Text(16),
		"not_after", c.Leaf.NotAfter.UTC().Format(time.RFC3339), "self_signed", m.certFile == "")
	if until := time.Until(c.Leaf.NotAfter); until < 14*24*time.Hour {
		m.log.Warn("tls: certificate expires soon", "not_after", c.Leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	return nil
}

// loadPair reads a PEM certificate chain and its key and checks they match.
func loadPair(certFile, keyFile string) (*tls.Certificate, error) {
	c, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, err
	}
	if c.Leaf == nil {
		if c.Leaf, err = x509.ParseCertificate(c.Certificate[0]); err != nil {
			return nil, fmt.Errorf("parse %s: %w", certFile, err)
		}
	}
	return &c, nil
}

// selfSigned returns the self-signed certificate from dataDir/tls,
// generating and storing a new one when there is none usable for the
// hostname.
func (m *Manager) selfSigned() (*tls.Certificate, error) {
	dir := filepath.Join(m.dataDir, "tls")
	certPath, keyPath := filepath.Join(dir, selfSignedCert), filepath.Join(dir, selfSignedKey)

	c, err := loadPair(certPath, keyPath)
	switch {
	case err == nil && !coversHost(c.Leaf, m.hostname):
		m.log.Info("tls: hostname changed; regenerating self-signed certificate", "hostname", m.hostname)
	case err == nil && time.Now().After(c.Leaf.NotAfter):
		m.log.Info("tls: self-signed certificate expired; regenerating it", "not_after", c.Leaf.NotAfter)
	case err == nil:
		return c, nil
	case errors.Is(err, os.ErrNotExist):
		m.log.Info("tls: generating self-signed certificate", "hostname", m.hostname, "dir", dir)
	default:
		m.log.Warn("tls: self-signed certificate unusable; regenerating it", "err", err)
	}

	certPEM, keyPEM, err := generate(m.hostname, time.Now())
	if err != nil {
		return nil, fmt.Errorf("tlsutil: generate self-signed certificate: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("tlsutil: create %s: %w", dir, err)
	}
	// MkdirAll leaves an existing directory's mode alone; the key inside
	// must not be reachable by other users either way.
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, fmt.Errorf("tlsutil: chmod %s: %w", dir, err)
	}
	// Key first: if we crash between the two renames the pair mismatches,
	// fails to load, and is regenerated on the next start.
	if err := writeAtomic(keyPath, keyPEM, 0o600); err != nil {
		return nil, err
	}
	if err := writeAtomic(certPath, certPEM, 0o644); err != nil {
		return nil, err
	}
	c, err = loadPair(certPath, keyPath)
	if err != nil {
		return nil, fmt.Errorf("tlsutil: reload generated certificate: %w", err)
	}
	return c, nil
}

// coversHost reports whether leaf names host among its SANs.
func coversHost(leaf *x509.Certificate, host string) bool {
	if ip := net.ParseIP(host); ip != nil {
		for _, a := range leaf.IPAddresses {
			if a.Equal(ip) {
				return true
			}
		}
		return false
	}
	for _, n := range leaf.DNSNames {
		if strings.EqualFold(n, host) {
			return true
		}
	}
	return false
}

// generate creates a self-signed ECDSA P-256 certificate for host, PEM
// encoded. A host that is not an IP also gets localhost and the loopback
// addresses, so local tools (and the load generator) can verify it.
func generate(host string, now time.Time) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generate key: %w", err)
	}
	// RFC 5280 §4.1.2.2: positive, unique per issuer, at most 20 octets.
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, nil, fmt.Errorf("generate serial: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial.Add(serial, big.NewInt(1)),
		Subject:               pkix.Name{CommonName: host, Organization: []string{"Yizhan self-signed"}},
		NotBefore:             now.Add(-clockSkew),
		NotAfter:              now.Add(selfSignedValidity),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true, // lets a client trust it directly as its own root
	}
	if ip := net.ParseIP(host); ip != nil {
		tmpl.IPAddresses = []net.IP{ip}
	} else {
		tmpl.DNSNames = []string{host}
		if host != "localhost" {
			tmpl.DNSNames = append(tmpl.DNSNames, "localhost")
		}
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("create certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("marshal key: %w", err)
	}
	certPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	return certPEM, keyPEM, nil
}

// writeAtomic replaces path with data so that readers (and a crash) see
// either the old file or the whole new one: temp file in the same
// directory, fsync, rename, fsync of the directory.
func writeAtomic(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("tlsutil: write %s: %w", path, err)
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err := f.Chmod(perm); err != nil {
		return fmt.Errorf("tlsutil: chmod %s: %w", tmp, err)
	}
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("tlsutil: write %s: %w", tmp, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("tlsutil: fsync %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("tlsutil: close %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("tlsutil: rename to %s: %w", path, err)
	}
	ok = true
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("tlsutil: open %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("tlsutil: fsync %s: %w", dir, err)
	}
	return nil
}
