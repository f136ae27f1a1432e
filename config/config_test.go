package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestLoadPrecedence(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "c.json")
	os.WriteFile(file, []byte(`{"addr":"127.0.0.1:7000","log_level":"debug","demo_count":5}`), 0o600)
	tests := []struct {
		name     string
		args     []string
		env      map[string]string
		wantAddr string
		wantLv   string
		wantDB   string
	}{
		{"defaults", nil, nil, "127.0.0.1:8080", "info", filepath.Join("shenfen-data", "shenfen.db")},
		{"file", []string{"--config", file}, nil, "127.0.0.1:7000", "debug", filepath.Join("shenfen-data", "shenfen.db")},
		{"env over file", []string{"--config", file}, map[string]string{"SHENFEN_ADDR": "127.0.0.1:7001"}, "127.0.0.1:7001", "debug", filepath.Join("shenfen-data", "shenfen.db")},
		{"flag over env", []string{"--addr", "0.0.0.0:9"}, map[string]string{"SHENFEN_ADDR": "127.0.0.1:7001"}, "0.0.0.0:9", "info", filepath.Join("shenfen-data", "shenfen.db")},
		{"data dir", []string{"--data", "/x"}, nil, "127.0.0.1:8080", "info", "/x/shenfen.db"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, _, err := Load("t", tc.args, env(tc.env), nil)
			if err != nil {
				t.Fatal(err)
			}
			if c.Addr != tc.wantAddr || c.LogLevel != tc.wantLv || c.Database != tc.wantDB {
				t.Fatalf("got addr %q level %q db %q", c.Addr, c.LogLevel, c.Database)
			}
		})
	}
}

func TestValidateReportsEverything(t *testing.T) {
	_, _, err := Load("t", []string{"--addr", "nope", "--log-level", "loud", "--log-format", "xml", "--admin-token", "short"}, env(nil), nil)
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"addr", "log-level", "log-format", "admin-token"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
}

func TestBadEnv(t *testing.T) {
	_, _, err := Load("t", nil, env(map[string]string{"SHENFEN_DEMO": "maybe", "SHENFEN_DEMO_COUNT": "x"}), nil)
	if err == nil || !strings.Contains(err.Error(), "SHENFEN_DEMO") || !strings.Contains(err.Error(), "SHENFEN_DEMO_COUNT") {
		t.Fatalf("err = %v", err)
	}
}

// TestFileStrict: a typo in the configuration file is an error naming the
// key, not a setting silently left at its default.
func TestFileStrict(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ content, want string }{
		{`{"master_keyfile":"/secrets/k"}`, `unknown key "master_keyfile"`},
		{`{"Addr":"0.0.0.0:1"}`, `unknown key "Addr"`},
		{`{"addr":"127.0.0.1:1","addr":"0.0.0.0:1"}`, `duplicate`},
		{`{"demo_count":"many"}`, `key "demo_count"`},
		{`{"addr":"127.0.0.1:1"} trailing`, `invalid`},
	} {
		file := filepath.Join(dir, "c.json")
		if err := os.WriteFile(file, []byte(tc.content), 0o600); err != nil {
			t.Fatal(err)
		}
		_, _, err := Load("t", []string{"--config", file}, env(nil), nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), file) {
			t.Errorf("%s: err = %v, want one naming %s and %q", tc.content, err, file, tc.want)
		}
	}
}
