// Package config is shenfen's one typed configuration: defaults, an optional
// JSON file, environment variables (SHENFEN_*) and command-line flags, in
// rising order of precedence, validated once with every problem reported
// together.
package config

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Config is the whole configuration of a shenfen process.
type Config struct {
	// Addr is the HOST:PORT that serve listens on.
	Addr string `json:"addr"`
	// AdminAddr, if set, is a second HOST:PORT that alone serves the admin
	// API, the console and /metrics (the public listener then answers 404
	// for them); keep it on a private network.
	AdminAddr string `json:"admin_addr"`
	// TrustedProxies lists the addresses and CIDR prefixes (comma-separated)
	// of the reverse proxies whose X-Forwarded-For / Forwarded client
	// address and X-Forwarded-Proto scheme are believed; others' are
	// ignored. Empty: the connection's peer is the client.
	TrustedProxies string `json:"trusted_proxies"`
	// DataDir holds the embedded database, key files and the admin token.
	DataDir string `json:"data"`
	// Database is a PostgreSQL URL (postgres://...) or a SQLite file path;
	// empty means DataDir/shenfen.db.
	Database string `json:"database"`
	// DatabaseReplica is a PostgreSQL URL of a replica (or of HAProxy's
	// replica port) for the reads that may be slightly stale: the status
	// list tokens. Empty: every read goes to Database.
	DatabaseReplica string `json:"database_replica"`
	// PublicURL is the externally visible base URL (issuer identifier); empty
	// means http://Addr.
	PublicURL string `json:"public_url"`
	// AdminToken guards the admin API; empty means a random token kept in
	// DataDir/admin-token, made on first start.
	AdminToken string `json:"admin_token"`
	// AdminTokenRoles are the operator roles the admin token (a machine
	// credential, never a person's) is scoped to, comma-separated.
	AdminTokenRoles string `json:"admin_token_roles"`
	// FourEyesAlone lists the roles whose irreversible changes (revoking a
	// card, cancelling a record) need no second operator; empty: every one
	// needs a second operator's approval.
	FourEyesAlone string `json:"four_eyes_alone"`
	// ShowOperatorNames shows citizens the operator's name in their
	// history; otherwise only the badge number and office.
	ShowOperatorNames bool `json:"show_operator_names"`
	// MasterKeyFile holds the 32-byte key that encrypts PII and portraits at
	// rest; empty means DataDir/master.key, made on first start only for a
	// new installation (empty database); a named file is never made by an
	// ordinary command (shenfen keys init-master makes it).
	MasterKeyFile string `json:"master_key_file"`
	// LogLevel is debug, info, warn or error.
	LogLevel string `json:"log_level"`
	// LogFormat is json or text.
	LogFormat string `json:"log_format"`
	// Demo loads demo data at serve start when the registry is empty.
	Demo bool `json:"demo"`
	// DemoCount is how many synthetic citizens the demo registry holds.
	DemoCount int `json:"demo_count"`
	// FacesDir is where labelled test photos are looked for (demo portraits).
	FacesDir string `json:"faces_dir"`
}

// Defaults returns the configuration used when nothing is set.
func Defaults() Config {
	return Config{
		Addr:      "127.0.0.1:8080",
		DataDir:   "shenfen-data",
		LogLevel:  "info",
		LogFormat: "json",
		DemoCount: 200,
		// Machines load the registry, change cards and register RPs.
		AdminTokenRoles: "registry-clerk,card-officer,administrator",
		FacesDir:        "../shared/testdata/faces",
	}
}

type field struct {
	flag, env, usage string
	ptr              func(*Config) any
}

var fields = []field{
	{"addr", "SHENFEN_ADDR", "HOST:PORT to listen on", func(c *Config) any { return &c.Addr }},
	{"admin-addr", "SHENFEN_ADMIN_ADDR", "HOST:PORT of a separate listener for the admin API, console and /metrics (default: none, all on addr)", func(c *Config) any { return &c.AdminAddr }},
	{"trusted-proxies", "SHENFEN_TRUSTED_PROXIES", "comma-separated IPs/CIDRs of reverse proxies allowed to set X-Forwarded-For/Forwarded and X-Forwarded-Proto", func(c *Config) any { return &c.TrustedProxies }},
	{"data", "SHENFEN_DATA", "data directory (embedded database, keys, admin token)", func(c *Config) any { return &c.DataDir }},
	{"db", "SHENFEN_DATABASE", "database: postgres://... URL or SQLite file (default DATA/shenfen.db)", func(c *Config) any { return &c.Database }},
	{"db-replica", "SHENFEN_DATABASE_REPLICA", "PostgreSQL URL of a replica for reads that may be slightly stale: status list tokens (default: none, every read on the primary)", func(c *Config) any { return &c.DatabaseReplica }},
	{"public-url", "SHENFEN_PUBLIC_URL", "externally visible base URL (default http://ADDR)", func(c *Config) any { return &c.PublicURL }},
	{"admin-token", "SHENFEN_ADMIN_TOKEN", "admin API bearer token (default: random, kept in DATA/admin-token)", func(c *Config) any { return &c.AdminToken }},
	{"admin-token-roles", "SHENFEN_ADMIN_TOKEN_ROLES", "comma-separated operator roles the admin token (machine access) is scoped to", func(c *Config) any { return &c.AdminTokenRoles }},
	{"four-eyes-alone", "SHENFEN_FOUR_EYES_ALONE", "comma-separated roles whose card revocations and record cancellations need no second operator (default: none)", func(c *Config) any { return &c.FourEyesAlone }},
	{"show-operator-names", "SHENFEN_SHOW_OPERATOR_NAMES", "show citizens the operator's name in their history (default: badge number and office only)", func(c *Config) any { return &c.ShowOperatorNames }},
	{"master-key-file", "SHENFEN_MASTER_KEY_FILE", "file with the at-rest encryption key (default DATA/master.key, made only for an empty database; shenfen keys init-master makes a named one)", func(c *Config) any { return &c.MasterKeyFile }},
	{"log-level", "SHENFEN_LOG_LEVEL", "debug, info, warn or error", func(c *Config) any { return &c.LogLevel }},
	{"log-format", "SHENFEN_LOG_FORMAT", "json or text", func(c *Config) any { return &c.LogFormat }},
	{"demo", "SHENFEN_DEMO", "load demo data at start when the registry is empty", func(c *Config) any { return &c.Demo }},
	{"demo-count", "SHENFEN_DEMO_COUNT", "number of synthetic citizens in the demo registry", func(c *Config) any { return &c.DemoCount }},
	{"faces", "SHENFEN_FACES_DIR", "directory of labelled face photos used as demo portraits", func(c *Config) any { return &c.FacesDir }},
}

// Load builds the configuration for a subcommand from args and the
// environment. extra, if not nil, registers the subcommand's own flags on the
// same flag set. It returns the remaining positional arguments. A --config
// FILE flag (or SHENFEN_CONFIG) names an optional JSON file.
func Load(name string, args []string, getenv func(string) string, extra func(*flag.FlagSet)) (Config, []string, error) {
	c := Defaults()
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	configFile := getenv("SHENFEN_CONFIG")
	fs.StringVar(&configFile, "config", configFile, "optional JSON configuration file (env SHENFEN_CONFIG)")
	for _, f := range fields {
		usage := f.usage + " (env " + f.env + ")"
		switch p := f.ptr(&c).(type) {
		case *string:
			fs.StringVar(p, f.flag, *p, usage)
		case *bool:
			fs.BoolVar(p, f.flag, *p, usage)
		case *int:
			fs.IntVar(p, f.flag, *p, usage)
		}
	}
	if extra != nil {
		extra(fs)
	}
	if err := fs.Parse(args); err != nil {
		return c, nil, err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })

	// Rebuild in precedence order: defaults, file, environment, flags.
	flagged := c
	c = Defaults()
	var errs []error
	if configFile != "" {
		b, err := os.ReadFile(configFile)
		if err != nil {
			errs = append(errs, fmt.Errorf("config file: %w", err))
		} else if err := decodeFile(b, &c); err != nil {
			errs = append(errs, fmt.Errorf("config file %s: %w", configFile, err))
		}
	}
	for _, f := range fields {
		if v := getenv(f.env); v != "" {
			if err := setString(f.ptr(&c), v); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", f.env, err))
			}
		}
		if set[f.flag] {
			copyValue(f.ptr(&c), f.ptr(&flagged))
		}
	}
	c.fillDerived()
	if err := c.Validate(); err != nil {
		errs = append(errs, err)
	}
	return c, fs.Args(), errors.Join(errs...)
}

func setString(p any, v string) error {
	switch p := p.(type) {
	case *string:
		*p = v
	case *bool:
		switch strings.ToLower(v) {
		case "1", "true", "yes", "on":
			*p = true
		case "0", "false", "no", "off":
			*p = false
		default:
			return fmt.Errorf("%q is not a boolean", v)
		}
	case *int:
		var n int
		if _, err := fmt.Sscanf(v, "%d", &n); err != nil {
			return fmt.Errorf("%q is not an integer", v)
		}
		*p = n
	}
	return nil
}

func copyValue(dst, src any) {
	switch d := dst.(type) {
	case *string:
		*d = *src.(*string)
	case *bool:
		*d = *src.(*bool)
	case *int:
		*d = *src.(*int)
	}
}

func (c *Config) fillDerived() {
	if c.Database == "" && c.DataDir != "" {
		c.Database = filepath.Join(c.DataDir, "shenfen.db")
	}
	if c.MasterKeyFile == "" && c.DataDir != "" {
		c.MasterKeyFile = filepath.Join(c.DataDir, "master.key")
	}
	if c.PublicURL == "" {
		c.PublicURL = "http://" + c.Addr
	}
	c.PublicURL = strings.TrimRight(c.PublicURL, "/")
}

// Validate reports every problem of c together.
func (c Config) Validate() error {
	var errs []string
	if _, port, err := net.SplitHostPort(c.Addr); err != nil || port == "" {
		errs = append(errs, fmt.Sprintf("addr %q is not HOST:PORT", c.Addr))
	}
	if c.AdminAddr != "" {
		if _, port, err := net.SplitHostPort(c.AdminAddr); err != nil || port == "" {
			errs = append(errs, fmt.Sprintf("admin-addr %q is not HOST:PORT", c.AdminAddr))
		} else if c.AdminAddr == c.Addr && port != "0" {
			errs = append(errs, "admin-addr is the same as addr")
		}
	}
	if _, err := c.TrustedProxyPrefixes(); err != nil {
		errs = append(errs, fmt.Sprintf("trusted-proxies: %v", err))
	}
	if c.DataDir == "" {
		errs = append(errs, "data directory is empty")
	}
	if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Sprintf("public-url %q is not an http(s) URL", c.PublicURL))
	}
	if c.AdminToken != "" && len(c.AdminToken) < 16 {
		errs = append(errs, "admin-token is shorter than 16 characters")
	}
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(c.LogLevel)); err != nil {
		errs = append(errs, fmt.Sprintf("log-level %q is not debug, info, warn or error", c.LogLevel))
	}
	if c.LogFormat != "json" && c.LogFormat != "text" {
		errs = append(errs, fmt.Sprintf("log-format %q is not json or text", c.LogFormat))
	}
	if c.DemoCount < 0 {
		errs = append(errs, "demo-count is negative")
	}
	if len(errs) == 0 {
		return nil
	}
	sort.Strings(errs)
	return fmt.Errorf("config: %s", strings.Join(errs, "; "))
}

// TrustedProxyPrefixes parses TrustedProxies: each entry an IP address or
// a CIDR prefix.
func (c Config) TrustedProxyPrefixes() ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range strings.Split(c.TrustedProxies, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if strings.Contains(s, "/") {
			p, err := netip.ParsePrefix(s)
			if err != nil {
				return nil, fmt.Errorf("%q is not an IP address or CIDR prefix", s)
			}
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil || a.Zone() != "" {
			return nil, fmt.Errorf("%q is not an IP address or CIDR prefix", s)
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// Logger returns the process logger the configuration asks for.
func (c Config) Logger() *slog.Logger {
	var lv slog.Level
	lv.UnmarshalText([]byte(c.LogLevel))
	opts := &slog.HandlerOptions{Level: lv}
	if c.LogFormat == "text" {
		return slog.New(slog.NewTextHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewJSONHandler(os.Stderr, opts))
}
