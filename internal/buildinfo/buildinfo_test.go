package buildinfo

import (
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
)

func TestString(t *testing.T) {
	bi := &debug.BuildInfo{
		GoVersion: "go1.26.0",
		Path:      "github.com/yizhan-mail/yizhan/cmd/yizhan",
		Main:      debug.Module{Path: "github.com/yizhan-mail/yizhan", Version: "v1.2.0"},
		Settings: []debug.BuildSetting{
			{Key: "GOOS", Value: "linux"}, {Key: "GOARCH", Value: "arm64"},
			{Key: "vcs.revision", Value: "3f2a9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b"},
			{Key: "vcs.time", Value: "2026-12-01T10:00:00Z"}, {Key: "vcs.modified", Value: "true"},
		},
	}
	got := fromBuildInfo(bi).String()
	want := "yizhan v1.2.0 commit 3f2a9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b+modified (2026-12-01T10:00:00Z) go1.26.0 linux/arm64"
	if got != want {
		t.Errorf("String() = %q\nwant       %q", got, want)
	}
	// Unstamped (go run, -buildvcs=false): the commit is said to be unknown.
	got = fromBuildInfo(&debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Version: "(devel)"}}).String()
	if !strings.HasPrefix(got, "yizhan (devel) commit unknown go1.26.0 ") {
		t.Errorf("unstamped String() = %q", got)
	}
	if in := fromBuildInfo(nil); in.Version != "(devel)" || in.GoVersion == "" || in.Platform == "" {
		t.Errorf("no build info: %+v", in)
	}
}

func TestCommand(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "cmd", "yizhan"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "go.mod"), []byte("module github.com/yizhan-mail/yizhan\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	bi := &debug.BuildInfo{Path: "github.com/yizhan-mail/yizhan/cmd/yizhan", Main: debug.Module{Path: "github.com/yizhan-mail/yizhan"}}
	goRun := "/tmp/go-build2795312411/b001/exe/yizhan"
	for _, c := range []struct {
		arg0, wd, want string
	}{
		{goRun, root, "go run ./cmd/yizhan"},
		{"/root/.cache/go-build/ea/eaa2ab8a96dd9ea09722d8b5aa70313f63d0119d470cccffa74616f139b91fd7-d/yizhan", root, "go run ./cmd/yizhan"},
		{goRun, filepath.Join(root, "cmd", "yizhan"), "go run ."},
		{goRun, t.TempDir(), "go run github.com/yizhan-mail/yizhan/cmd/yizhan"},
		{"yizhan", root, "yizhan"},
		{"./yizhan", root, "./yizhan"},
		{"/usr/local/bin/yizhan", root, "/usr/local/bin/yizhan"},
		{"/opt/my mail/yizhan", root, `'/opt/my mail/yizhan'`},
		{"/tmp/go-build-cache/yizhan", root, "/tmp/go-build-cache/yizhan"}, // not go run's directory
		{"/srv/build-d/yizhan", root, "/srv/build-d/yizhan"},
	} {
		if got := command(c.arg0, bi, c.wd); got != c.want {
			t.Errorf("command(%q, wd %s) = %q, want %q", c.arg0, c.wd, got, c.want)
		}
	}
}

func TestQuote(t *testing.T) {
	for in, want := range map[string]string{
		"yizhan.toml":        "yizhan.toml",
		"/etc/yizhan/a.toml": "/etc/yizhan/a.toml",
		"my config.toml":     `'my config.toml'`,
		"it's":               `'it'\''s'`,
		"":                   "''",
		"$HOME/x":            `'$HOME/x'`,
	} {
		if got := Quote(in); got != want {
			t.Errorf("Quote(%q) = %q, want %q", in, got, want)
		}
	}
}
