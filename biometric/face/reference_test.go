package face

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// referenceTolerance is the largest element-wise difference allowed between
// our descriptors and face-api's own (tfjs cpu backend) on the same crops.
const referenceTolerance = 1e-5

// TestReferenceFaceAPI compares the Go port with @vladmandic/face-api run by
// Node (interop/face/reference.mjs) on the same face crops: synthetic crops
// of several sizes (exercising face-api's pad-to-square and bilinear resize)
// and the aligned faces the detector finds in the shared photos. It needs
// node and the npm packages, so it runs when SHENFEN_FACE_REFERENCE=1
// (scripts/test.d/face-reference.sh sets it).
func TestReferenceFaceAPI(t *testing.T) {
	if os.Getenv("SHENFEN_FACE_REFERENCE") != "1" {
		t.Skip("set SHENFEN_FACE_REFERENCE=1 to compare with face-api (needs node; scripts/test.d/face-reference.sh)")
	}
	e := testEngine(t)
	ctx := context.Background()
	var crops []rgbImage
	rng := rand.New(rand.NewPCG(1, 2))
	for _, sz := range [][2]int{{150, 150}, {173, 201}, {97, 64}, {300, 299}} {
		c := rgbImage{w: sz[0], h: sz[1], d: make([]float32, sz[0]*sz[1]*3)}
		for y := 0; y < c.h; y++ {
			for x := 0; x < c.w; x++ {
				for ch := 0; ch < 3; ch++ {
					v := 128 + 100*math.Sin(float64(x*(ch+1))/17+float64(y)/23) + float64(rng.IntN(40)) - 20
					c.d[(y*c.w+x)*3+ch] = float32(math.Round(min(255, max(0, v))))
				}
			}
		}
		crops = append(crops, c)
	}
	// Every second photo keeps the suite short (tfjs's cpu backend takes
	// seconds a face).
	for i, p := range labelledPhotos(t) {
		if p.person == "group" || i%2 == 1 {
			continue
		}
		img := loadPhoto(t, p.path)
		f, err := e.Analyze(ctx, img)
		if err != nil {
			t.Logf("%s: %v (not used for the reference check)", p.path, err)
			continue
		}
		crops = append(crops, toRGB(img, f.Crop))
	}
	raw := runFaceAPI(t, "reference.mjs", crops)
	var res struct {
		Descriptors [][]float64 `json:"descriptors"`
		TFJS        string      `json:"tfjs"`
		FaceAPI     string      `json:"faceapi"`
	}
	if err := json.Unmarshal(raw, &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Descriptors) != len(crops) {
		t.Fatalf("face-api returned %d descriptors for %d crops", len(res.Descriptors), len(crops))
	}
	worst := 0.0
	for i, c := range crops {
		got := e.describe(c)
		if len(res.Descriptors[i]) != 128 {
			t.Fatalf("crop %d: face-api descriptor has %d values", i, len(res.Descriptors[i]))
		}
		var want Descriptor
		for j, v := range res.Descriptors[i] {
			want[j] = float32(v)
			worst = max(worst, math.Abs(float64(got[j])-v))
		}
		if d := Distance(got, want); d > 1e-4 {
			t.Errorf("crop %d (%dx%d): distance to face-api's descriptor %.3g", i, c.w, c.h, d)
		}
	}
	t.Logf("face-api %s on tfjs %s: %d crops, max |Go - face-api| = %.3g", res.FaceAPI, res.TFJS, len(crops), worst)
	if worst > referenceTolerance {
		t.Errorf("max element difference %.3g exceeds %g", worst, referenceTolerance)
	}
}

// runFaceAPI hands crops (as RGB bytes) to a Node script of interop/face
// that runs face-api on them, and returns the JSON the script writes.
func runFaceAPI(t *testing.T, script string, crops []rgbImage) []byte {
	t.Helper()
	type jsCrop struct {
		Width  int    `json:"width"`
		Height int    `json:"height"`
		RGB    string `json:"rgb"`
	}
	var in struct {
		Crops []jsCrop `json:"crops"`
	}
	for _, c := range crops {
		b := make([]byte, len(c.d))
		for i, v := range c.d {
			b[i] = byte(v)
		}
		in.Crops = append(in.Crops, jsCrop{c.w, c.h, base64.StdEncoding.EncodeToString(b)})
	}
	dir := t.TempDir()
	inFile, outFile := filepath.Join(dir, "in.json"), filepath.Join(dir, "out.json")
	raw, _ := json.Marshal(in)
	if err := os.WriteFile(inFile, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	modelDir, err := DefaultModelDir()
	if err != nil {
		t.Fatal(err)
	}
	root := repoRoot(t)
	cmd := exec.Command("node", filepath.Join(root, "interop", "face", script), modelDir, inFile, outFile)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("node %s: %v\n%s", script, err, out)
	}
	raw, err = os.ReadFile(outFile)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}
