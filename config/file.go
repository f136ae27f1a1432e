package config

import (
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"

	jsonv2 "github.com/go-json-experiment/json"
)

// decodeFile reads a configuration file's JSON into c strictly: a key that
// is not a setting (a typo such as "master_keyfile"), a key in other case
// ("Addr"), a key given twice or a value of the wrong type is an error that
// names the key, instead of a setting silently left at its default.
func decodeFile(b []byte, c *Config) error {
	err := jsonv2.Unmarshal(b, c, jsonv2.RejectUnknownMembers(true))
	if err == nil {
		return nil
	}
	var se *jsonv2.SemanticError
	if errors.As(err, &se) && se.JSONPointer != "" {
		key := strings.TrimPrefix(string(se.JSONPointer), "/")
		if errors.Is(se.Err, jsonv2.ErrUnknownName) {
			return fmt.Errorf("unknown key %q (settings: %s)", key, strings.Join(fileKeys(), ", "))
		}
		return fmt.Errorf("key %q: %w", key, err)
	}
	return err
}

// fileKeys lists the keys a configuration file may set.
func fileKeys() []string {
	var keys []string
	t := reflect.TypeFor[Config]()
	for i := range t.NumField() {
		if name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ","); name != "" && name != "-" {
			keys = append(keys, name)
		}
	}
	sort.Strings(keys)
	return keys
}
