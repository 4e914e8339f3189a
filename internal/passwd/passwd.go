// Package passwd hashes and checks account passwords with argon2id (RFC
// 9106), stored in the PHC string format
// "$argon2id$v=19$m=65536,t=1,p=2$salt$hash" so parameters can be raised
// later without invalidating existing hashes.
package passwd

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Parameters: RFC 9106 §4's second recommended option (64 MiB, t=3) costs
// too much per login on a 2-core server handling many IMAP reconnects; 64
// MiB with t=1 and p=2 is the OWASP-recommended floor scaled for memory.
const (
	memoryKiB = 64 * 1024
	timeCost  = 1
	threads   = 2
	keyLen    = 32
	saltLen   = 16

	// Upper bounds Verify accepts, well above the parameters in use so
	// they can still be raised.
	maxMemoryKiB = 1 << 20 // 1 GiB
	maxTime      = 10
	maxThreads   = 16
)

// ErrMismatch is returned by Verify for a wrong password.
var ErrMismatch = errors.New("passwd: password does not match")

var b64 = base64.RawStdEncoding

// Hash returns the PHC-format argon2id hash of password with a new salt.
func Hash(password string) (string, error) {
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("passwd: salt: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, timeCost, memoryKiB, threads, keyLen)
	return format(salt, key), nil
}

// Decoy returns a hash in Hash's format and with its parameters that no
// password matches: its key is random bytes, not derived from any
// password. Verifying a login for an account that does not exist against
// it costs what a real account's wrong password costs, so the time of the
// answer does not tell which accounts exist. Making it costs no argon2id.
func Decoy() (string, error) {
	buf := make([]byte, saltLen+keyLen)
	if _, err := rand.Read(buf); err != nil {
		return "", fmt.Errorf("passwd: decoy: %w", err)
	}
	return format(buf[:saltLen], buf[saltLen:]), nil
}

func format(salt, key []byte) string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, memoryKiB, timeCost, threads, b64.EncodeToString(salt), b64.EncodeToString(key))
}

// Verify checks password against a hash made by Hash (with any parameters).
func Verify(hash, password string) error {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return errors.New("passwd: unsupported hash format")
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return errors.New("passwd: unsupported argon2 version")
	}
	var m, t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil || t == 0 || p == 0 {
		return errors.New("passwd: bad argon2 parameters")
	}
	// The parameters come from the stored string: bound them so a corrupt
	// or planted hash cannot make one login allocate gigabytes or spin.
	if m > maxMemoryKiB || t > maxTime || p > maxThreads {
		return errors.New("passwd: argon2 parameters too large")
	}
	salt, err := b64.DecodeString(parts[4])
	if err != nil {
		return fmt.Errorf("passwd: salt: %w", err)
	}
	want, err := b64.DecodeString(parts[5])
	if err != nil || len(want) == 0 {
		return errors.New("passwd: bad hash")
	}
	got := argon2.IDKey([]byte(password), salt, t, m, p, uint32(len(want)))
	if subtle.ConstantTimeCompare(got, want) != 1 {
		return ErrMismatch
	}
	return nil
}
