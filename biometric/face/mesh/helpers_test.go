package mesh

import (
	"image"
	_ "image/jpeg"
	_ "image/png" // decoder
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/shenfen/shenfen/credential/credtest"
)

var (
	engineOnce sync.Once
	engine     *Engine
	engineErr  error
)

// testEngine loads the models from the installed npm package. They are a
// setup-time dependency (scripts/setup.sh installs them): their absence
// fails the test rather than skipping it.
func testEngine(t testing.TB) *Engine {
	t.Helper()
	engineOnce.Do(func() {
		dir, err := DefaultModelDir()
		if err != nil {
			engineErr = err
			return
		}
		engine, engineErr = New(dir)
	})
	if engineErr != nil {
		t.Fatalf("load models: %v", engineErr)
	}
	return engine
}

// repoRoot is the directory holding go.mod.
func repoRoot(t testing.TB) string {
	t.Helper()
	d, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d
		}
		p := filepath.Dir(d)
		if p == d {
			t.Fatal("go.mod not found")
		}
		d = p
	}
}

// facesDir is the labelled face photos directory (never copied into the
// repository), found as every test of the project finds it
// (credtest.FacesDir: $SHENFEN_FACES_DIR or ../shared/testdata/faces next
// to the checkout).
func facesDir(t testing.TB) string {
	t.Helper()
	d := credtest.FacesDir()
	if st, err := os.Stat(d); err != nil || !st.IsDir() {
		t.Fatalf("face photos not found at %s: set SHENFEN_FACES_DIR (see scripts/test.sh)", d)
	}
	return d
}

// photo is one photo of the shared set: person folder ("group" for
// photos with several faces) and path.
type photo struct{ person, path string }

func photos(t testing.TB) []photo {
	t.Helper()
	root := facesDir(t)
	var out []photo
	dirs, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range dirs {
		if !d.IsDir() {
			continue
		}
		files, err := os.ReadDir(filepath.Join(root, d.Name()))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			ext := strings.ToLower(filepath.Ext(f.Name()))
			if ext == ".jpg" || ext == ".jpeg" || ext == ".png" {
				out = append(out, photo{d.Name(), filepath.Join(root, d.Name(), f.Name())})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].path < out[j].path })
	if len(out) == 0 {
		t.Fatalf("no photos in %s", root)
	}
	return out
}

func loadImage(t testing.TB, path string) image.Image {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, _, err := image.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return img
}
