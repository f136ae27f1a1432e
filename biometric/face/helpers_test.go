package face

import (
	"context"
	"image"
	_ "image/jpeg"
	_ "image/png"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"

	"github.com/shenfen/shenfen/credential/credtest"
)

var (
	engineOnce sync.Once
	engine     *Engine
	engineErr  error
)

// testEngine loads the engine from the installed face-api model files. The
// model is a setup-time dependency (scripts/setup.sh installs it): its
// absence fails the test rather than skipping it.
func testEngine(t testing.TB) *Engine {
	t.Helper()
	engineOnce.Do(func() {
		dir, err := DefaultModelDir()
		if err != nil {
			engineErr = err
			return
		}
		engine, engineErr = Load(dir)
	})
	if engineErr != nil {
		t.Fatalf("load engine: %v", engineErr)
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

// labelledPhoto is one photo of the shared set.
type labelledPhoto struct {
	person string // folder name; "group" for photos with several faces
	path   string
}

func labelledPhotos(t testing.TB) []labelledPhoto {
	t.Helper()
	dir := facesDir(t)
	var out []labelledPhoto
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		files, err := os.ReadDir(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			switch filepath.Ext(f.Name()) {
			case ".jpg", ".jpeg", ".png", ".webp":
				out = append(out, labelledPhoto{e.Name(), filepath.Join(dir, e.Name(), f.Name())})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].path < out[j].path })
	if len(out) == 0 {
		t.Fatalf("no photos under %s", dir)
	}
	return out
}

var (
	analyzedOnce sync.Once
	analyzed     map[string]analysis
)

// analysis is Analyze's result on one shared photo.
type analysis struct {
	face Face
	err  error
}

// analyzeAll runs Analyze once on every shared photo and caches the results
// for the tests that need them.
func analyzeAll(t testing.TB) map[string]analysis {
	t.Helper()
	e := testEngine(t)
	photos := labelledPhotos(t)
	analyzedOnce.Do(func() {
		analyzed = map[string]analysis{}
		for _, p := range photos {
			f, err := e.Analyze(context.Background(), loadPhoto(t, p.path))
			analyzed[p.path] = analysis{f, err}
		}
	})
	return analyzed
}

func loadPhoto(t testing.TB, path string) image.Image {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := DecodeImage(f, DefaultLimits)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return img
}
