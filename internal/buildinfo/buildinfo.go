// Package buildinfo says which Yizhan this is (version, commit, Go
// version, from what the Go toolchain stamped into the binary) and how the
// operator ran it, so that messages can show commands to copy.
package buildinfo

import (
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
)

// Info describes the running binary.
type Info struct {
	Version   string // module version: "v1.2.3" from go install …@v1.2.3, "(devel)" from a checkout
	Commit    string // vcs.revision; "" when the build was not stamped (-buildvcs=false, go run, no git)
	Time      string // vcs.time, RFC 3339
	Modified  bool   // vcs.modified: built from a work tree with uncommitted changes
	GoVersion string // toolchain, e.g. "go1.26.0"
	Platform  string // GOOS/GOARCH
}

// Read returns the running binary's Info.
func Read() Info {
	bi, _ := debug.ReadBuildInfo()
	return fromBuildInfo(bi)
}

func fromBuildInfo(bi *debug.BuildInfo) Info {
	in := Info{Version: "(devel)", GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if bi == nil {
		return in
	}
	if v := bi.Main.Version; v != "" {
		in.Version = v
	}
	if bi.GoVersion != "" {
		in.GoVersion = bi.GoVersion
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			in.Commit = s.Value
		case "vcs.time":
			in.Time = s.Value
		case "vcs.modified":
			in.Modified = s.Value == "true"
		case "GOOS":
			in.Platform = s.Value + in.Platform[strings.IndexByte(in.Platform, '/'):]
		case "GOARCH":
			in.Platform = in.Platform[:strings.IndexByte(in.Platform, '/')+1] + s.Value
		}
	}
	return in
}

// String is the one line `yizhan version` prints, e.g.
// "yizhan v1.2.0 commit 3f2a… (2026-12-01T10:00:00Z) go1.26.0 linux/amd64".
func (in Info) String() string {
	var b strings.Builder
	b.WriteString("yizhan " + in.Version)
	switch {
	case in.Commit != "":
		b.WriteString(" commit " + in.Commit)
		if in.Modified {
			b.WriteString("+modified")
		}
		if in.Time != "" {
			b.WriteString(" (" + in.Time + ")")
		}
	default:
		// Say so rather than leave it out: the reader looks for it.
		b.WriteString(" commit unknown")
	}
	b.WriteString(" " + in.GoVersion + " " + in.Platform)
	return b.String()
}

// Command returns how the operator ran this program, to show in messages
// that tell them what to run next: "go run ./cmd/yizhan" under go run
// (the binary then lives in a temporary build directory that is gone
// afterwards), else the program name as typed ("yizhan" from $PATH,
// "./yizhan", "/usr/local/bin/yizhan").
func Command() string {
	bi, _ := debug.ReadBuildInfo()
	wd, _ := os.Getwd()
	return command(os.Args[0], bi, wd)
}

func command(arg0 string, bi *debug.BuildInfo, wd string) string {
	if !underGoRun(arg0) {
		return Quote(arg0)
	}
	if bi == nil || bi.Path == "" {
		return "go run ."
	}
	// The main package relative to the module root (cmd/yizhan), then
	// the shortest form that works from the working directory.
	rel, ok := strings.CutPrefix(bi.Path, bi.Main.Path+"/")
	if !ok {
		rel = "" // the main package is the module root
	}
	slashWD := filepath.ToSlash(wd)
	switch {
	case wd == "":
		return "go run " + bi.Path
	case rel != "" && isDir(filepath.Join(wd, filepath.FromSlash(rel))):
		return "go run ./" + rel // from the module root
	case rel != "" && strings.HasSuffix(slashWD, "/"+rel), rel == "" && isFile(filepath.Join(wd, "go.mod")):
		return "go run ." // from the main package's directory
	default:
		return "go run " + bi.Path
	}
}

// underGoRun reports whether arg0 is a binary go run built. Go 1.24 and
// later keep it in the build cache, in an action directory named by a
// 64-digit hex hash and "-d" ($GOCACHE/ea/ea…91fd7-d/yizhan); older
// versions, and go run with caching off, in $GOTMPDIR/go-build…/b001/exe/.
func underGoRun(arg0 string) bool {
	dir := filepath.ToSlash(filepath.Dir(arg0))
	base := dir[strings.LastIndexByte(dir, '/')+1:]
	if h, ok := strings.CutSuffix(base, "-d"); ok && len(h) == 64 && strings.Trim(h, "0123456789abcdef") == "" {
		return true
	}
	return base == "exe" && strings.Contains(dir, "/go-build")
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

func isFile(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir()
}

// Quote makes a word (a path) safe to paste into a POSIX shell, for
// commands shown to the operator.
func Quote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/._-+:@%=,", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
