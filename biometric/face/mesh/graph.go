package mesh

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/shenfen/shenfen/biometric/face/internal/tfjs"
)

// ErrModel reports missing, truncated or inconsistent model files, and
// graphs that use an operation or attribute the executor does not run.
var ErrModel = errors.New("mesh: model files")

// modelJSON is a TF.js graph model file (model.json): the TensorFlow
// GraphDef as JSON and the weights manifest.
type modelJSON struct {
	Format        string `json:"format"`
	ModelTopology struct {
		Node []nodeDef `json:"node"`
	} `json:"modelTopology"`
	WeightsManifest []tfjs.Group `json:"weightsManifest"`
}

type nodeDef struct {
	Name  string             `json:"name"`
	Op    string             `json:"op"`
	Input []string           `json:"input"`
	Attr  map[string]attrDef `json:"attr"`
}

// attrDef is a GraphDef AttrValue as the converter writes it in JSON
// (64-bit integers as strings, strings as base64).
type attrDef struct {
	S    *string  `json:"s"`
	I    *string  `json:"i"`
	F    *float64 `json:"f"`
	B    *bool    `json:"b"`
	List *struct {
		S []string  `json:"s"`
		I []string  `json:"i"`
		F []float64 `json:"f"`
	} `json:"list"`
}

// readModel reads dir/name.json and its weight shards.
func readModel(dir, name string) ([]nodeDef, map[string]tfjs.Tensor, error) {
	file := name + ".json"
	raw, err := os.ReadFile(filepath.Join(dir, file))
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrModel, err)
	}
	var m modelJSON
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, nil, fmt.Errorf("%w: %s: %w", ErrModel, file, err)
	}
	if m.Format != "graph-model" {
		return nil, nil, fmt.Errorf("%w: %s: format %q, want graph-model", ErrModel, file, m.Format)
	}
	consts, err := tfjs.Read(dir, m.WeightsManifest)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %s: %w", ErrModel, file, err)
	}
	return m.ModelTopology.Node, consts, nil
}

// attribute accessors; a missing attribute gives the zero value.

func (n *nodeDef) str(key string) string {
	a, ok := n.Attr[key]
	if !ok || a.S == nil {
		return ""
	}
	b, err := base64.StdEncoding.DecodeString(*a.S)
	if err != nil {
		return ""
	}
	return string(b)
}

func (n *nodeDef) ints(key string) []int {
	a, ok := n.Attr[key]
	if !ok || a.List == nil {
		return nil
	}
	out := make([]int, 0, len(a.List.I))
	for _, s := range a.List.I {
		v, err := strconv.Atoi(s)
		if err != nil {
			return nil
		}
		out = append(out, v)
	}
	return out
}

func (n *nodeDef) strs(key string) []string {
	a, ok := n.Attr[key]
	if !ok || a.List == nil {
		return nil
	}
	out := make([]string, 0, len(a.List.S))
	for _, s := range a.List.S {
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil
		}
		out = append(out, string(b))
	}
	return out
}

// inputName strips an input reference to the node name: "x:0" -> "x". It
// reports false for control inputs ("^x") and for outputs other than the
// first, which the executor does not use.
func inputName(s string) (string, bool, error) {
	if strings.HasPrefix(s, "^") {
		return "", false, nil
	}
	if i := strings.LastIndexByte(s, ':'); i >= 0 {
		if s[i+1:] != "0" {
			return "", false, fmt.Errorf("%w: input %q: only the first output of a node is supported", ErrModel, s)
		}
		s = s[:i]
	}
	return s, true, nil
}
