package mesh

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// referenceTolerance bounds |Go - tfjs| / max(1, |tfjs|) per output value:
// the two sum the same float32 products in different orders.
const referenceTolerance = 1e-5

// refRun is one graph execution for the Node script.
type refRun struct {
	Model   string   `json:"model"`
	Shape   []int    `json:"shape"`
	Input   string   `json:"input"`
	Outputs []string `json:"outputs"`
	graph   *Graph
	values  []float32
}

// TestReference runs BlazeFace and FaceMesh on the same inputs in Go and in
// tfjs's pure-JS cpu backend (testdata/reference.mjs, loading the same
// model files) and compares every raw output value. The inputs are the
// networks' inputs for the shared face photos (the letterboxed image, the
// crop of each detected face) and random tensors. It needs node and the
// npm packages, so it runs when SHENFEN_MESH_REFERENCE=1
// (scripts/test.d/mesh-reference.sh sets it).
func TestReference(t *testing.T) {
	if os.Getenv("SHENFEN_MESH_REFERENCE") != "1" {
		t.Skip("set SHENFEN_MESH_REFERENCE=1 to compare with tfjs (needs node; scripts/test.d/mesh-reference.sh)")
	}
	e := testEngine(t)
	var runs []refRun
	add := func(g *Graph, model string, outputs []string, in []float32) {
		runs = append(runs, refRun{Model: model, Shape: g.input, Outputs: outputs, graph: g, values: in})
	}
	detOuts := []string{"Identity", "Identity_2", "Identity_1", "Identity_3"}
	meshOuts := []string{"Identity_2", "Identity_1"}
	rng := rand.New(rand.NewPCG(1, 2))
	random := func(n int, lo, hi float32) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = lo + (hi-lo)*rng.Float32()
		}
		return v
	}
	add(e.det, detectorModel, detOuts, random(size(e.det.input), -1, 1))
	add(e.mesh, meshModel, meshOuts, random(size(e.mesh.input), 0, 1))
	for i, p := range photos(t) {
		if i%3 != 0 { // a third of the photos keeps tfjs's cpu backend quick
			continue
		}
		img := loadImage(t, p.path)
		add(e.det, detectorModel, detOuts, detectorInput(img))
		faces, err := e.candidates(img)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range faces {
			add(e.mesh, meshModel, meshOuts, meshInput(img, f.region()))
		}
	}
	got := runReference(t, runs)
	worst := 0.0
	for i, r := range runs {
		want, err := r.graph.Run(r.values)
		if err != nil {
			t.Fatal(err)
		}
		if len(got[i]) != len(want) {
			t.Fatalf("run %d (%s): tfjs gave %d outputs, Go %d", i, r.Model, len(got[i]), len(want))
		}
		for j := range want {
			if len(got[i][j]) != len(want[j]) {
				t.Fatalf("run %d (%s) output %s: tfjs gave %d values, Go %d", i, r.Model, r.Outputs[j], len(got[i][j]), len(want[j]))
			}
			runWorst := 0.0
			for k, v := range want[j] {
				ref := float64(got[i][j][k])
				d := math.Abs(float64(v)-ref) / math.Max(1, math.Abs(ref))
				if math.IsNaN(d) {
					d = math.Inf(1)
				}
				runWorst = max(runWorst, d)
			}
			if runWorst > referenceTolerance {
				t.Errorf("run %d (%s) output %s: max relative difference %.3g", i, r.Model, r.Outputs[j], runWorst)
			}
			worst = max(worst, runWorst)
		}
	}
	t.Logf("%d runs, max |Go - tfjs| / max(1, |tfjs|) = %.3g", len(runs), worst)
}

// runReference hands the runs to testdata/reference.mjs and returns its
// outputs.
func runReference(t *testing.T, runs []refRun) [][][]float32 {
	t.Helper()
	for i := range runs {
		b := make([]byte, 4*len(runs[i].values))
		for k, v := range runs[i].values {
			binary.LittleEndian.PutUint32(b[4*k:], math.Float32bits(v))
		}
		runs[i].Input = base64.StdEncoding.EncodeToString(b)
	}
	dir := t.TempDir()
	inFile, outFile := filepath.Join(dir, "in.json"), filepath.Join(dir, "out.json")
	raw, err := json.Marshal(map[string]any{"runs": runs})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(inFile, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	modelDir, err := DefaultModelDir()
	if err != nil {
		t.Fatal(err)
	}
	script, err := filepath.Abs(filepath.Join("testdata", "reference.mjs"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("node", script, modelDir, inFile, outFile)
	cmd.Dir = repoRoot(t)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("node reference.mjs: %v\n%s", err, out)
	}
	raw, err = os.ReadFile(outFile)
	if err != nil {
		t.Fatal(err)
	}
	var res struct {
		Results [][]string `json:"results"`
		TFJS    string     `json:"tfjs"`
	}
	if err := json.Unmarshal(raw, &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Results) != len(runs) {
		t.Fatalf("tfjs returned %d results for %d runs", len(res.Results), len(runs))
	}
	t.Logf("tfjs %s (cpu backend)", res.TFJS)
	out := make([][][]float32, len(res.Results))
	for i, r := range res.Results {
		for _, enc := range r {
			b, err := base64.StdEncoding.DecodeString(enc)
			if err != nil {
				t.Fatal(err)
			}
			v := make([]float32, len(b)/4)
			for k := range v {
				v[k] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*k:]))
			}
			out[i] = append(out[i], v)
		}
	}
	return out
}
