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
		t.Run(tc.want, func(t *testing.T) {
			file := filepath.Join(dir, "c.json")
			if err := os.WriteFile(file, []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			_, _, err := Load("t", []string{"--config", file}, env(nil), nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), file) {
				t.Errorf("%s: err = %v, want one naming %s and %q", tc.content, err, file, tc.want)
			}
		})
	}
}

func TestEdgeSettings(t *testing.T) {
	c, _, err := Load("t", []string{"--admin-addr", "127.0.0.1:9090", "--trusted-proxies", "10.0.0.0/8, 127.0.0.1,::1"}, env(nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	ps, err := c.TrustedProxyPrefixes()
	if err != nil || len(ps) != 3 || ps[1].String() != "127.0.0.1/32" || ps[2].String() != "::1/128" {
		t.Fatalf("prefixes %v %v", ps, err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--trusted-proxies", "10.0.0.0/33"}, "trusted-proxies"},
		{[]string{"--trusted-proxies", "proxy.example"}, "trusted-proxies"},
		{[]string{"--trusted-proxies", "fe80::1%eth0"}, "trusted-proxies"},
		{[]string{"--admin-addr", "nope"}, "admin-addr"},
		{[]string{"--admin-addr", "127.0.0.1:8080"}, "admin-addr is the same"},
	} {
		if _, _, err := Load("t", tc.args, env(nil), nil); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: err %v, want %q", tc.args, err, tc.want)
		}
	}
	c, _, err = Load("t", nil, env(map[string]string{"SHENFEN_TRUSTED_PROXIES": "192.0.2.1", "SHENFEN_ADMIN_ADDR": "127.0.0.1:9"}), nil)
	if err != nil || c.TrustedProxies != "192.0.2.1" || c.AdminAddr != "127.0.0.1:9" {
		t.Fatalf("env: %+v %v", c, err)
	}
}
