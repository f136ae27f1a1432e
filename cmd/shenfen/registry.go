package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"image"
	_ "image/jpeg" // portrait formats
	_ "image/png"
	"io"
	"iter"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/term"

	"github.com/shenfen/shenfen/admin"
	"github.com/shenfen/shenfen/biometric/face"
	"github.com/shenfen/shenfen/config"
	"github.com/shenfen/shenfen/operator"
	"github.com/shenfen/shenfen/registry"
	"github.com/shenfen/shenfen/store"
)

func init() {
	commands["registry"] = command{"import, add, show and generate population registry records", runRegistry}
}

// registrySubcommands are "shenfen registry SUB".
var registrySubcommands = map[string]struct {
	summary string
	run     func(ctx context.Context, args []string) error
}{
	"import": {"import records from CSV or JSON Lines files (resumable)", registryImport},
	"add":    {"add or update one record", registryAdd},
	"show":   {"show the record of an ID number", registryShow},
	"status": {"set the status of a record: valid, cancelled or deceased", registryStatus},
	"demo":   {"generate synthetic residents (CSV, or --import)", registryDemo},
}

func runRegistry(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "help" || args[0] == "--help" {
		fmt.Fprintln(os.Stderr, "usage: shenfen registry SUBCOMMAND [flags]\n\nsubcommands:")
		for _, n := range []string{"import", "add", "show", "status", "demo"} {
			fmt.Fprintf(os.Stderr, "  %-8s %s\n", n, registrySubcommands[n].summary)
		}
		if len(args) == 0 {
			return errors.New("missing subcommand")
		}
		return nil
	}
	sub, ok := registrySubcommands[args[0]]
	if !ok {
		return fmt.Errorf("unknown subcommand %q (import, add, show, status, demo)", args[0])
	}
	return sub.run(ctx, args[1:])
}

// openRegistry loads the master key (openMasterKey) and builds the
// registry service; openApp calls it.
func (a *app) openRegistry(ctx context.Context) error {
	s, err := a.openMasterKey(ctx)
	if err != nil {
		return err
	}
	a.sealer = s
	a.registryMetrics = newRegistryMetrics()
	a.registry = registry.NewService(store.NewRegistry(a.db), s, registry.WithMetrics(a.registryMetrics),
		registry.WithTemplater(&faceTemplater{log: a.log}))
	return nil
}

// faceTemplater computes the registry's face templates (serialised
// face.Descriptor) with the face engine, loaded on the first portrait, so
// that imports without portraits never load it. Without the model files it
// stores records without templates (enrollment then refuses them as having
// no template) and says so once; a portrait in which the engine finds no
// single usable face rejects the record.
type faceTemplater struct {
	log  *slog.Logger
	once sync.Once
	eng  *face.Engine
}

func (t *faceTemplater) Template(ctx context.Context, portrait []byte) ([]byte, error) {
	t.once.Do(func() {
		dir, err := face.DefaultModelDir()
		if err == nil {
			t.eng, err = face.Load(dir)
		}
		if err != nil {
			t.log.Warn("face model not available: registry portraits are stored without face templates", "error", err.Error())
		}
	})
	if t.eng == nil {
		return nil, nil
	}
	img, _, err := image.Decode(bytes.NewReader(portrait))
	if err != nil {
		return nil, err
	}
	f, err := t.eng.Analyze(ctx, img)
	if err != nil {
		return nil, err
	}
	return f.Descriptor.MarshalBinary()
}

// registryMetrics counts registry lookups and imported records for /metrics.
type registryMetrics struct {
	lookups  *prometheus.CounterVec
	imported *prometheus.CounterVec
}

func newRegistryMetrics() *registryMetrics {
	return &registryMetrics{
		lookups: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shenfen_registry_lookups_total", Help: "Registry lookups by outcome (found, not_found, error).",
		}, []string{"outcome"}),
		imported: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shenfen_registry_records_imported_total", Help: "Registry records written by outcome (inserted, updated, unchanged, rejected).",
		}, []string{"outcome"}),
	}
}

func (m *registryMetrics) Lookup(outcome string) { m.lookups.WithLabelValues(outcome).Inc() }

func (m *registryMetrics) Imported(outcome string, n int) {
	if n > 0 {
		m.imported.WithLabelValues(outcome).Add(float64(n))
	}
}

// register adds the counters to a Prometheus registry.
func (m *registryMetrics) register(r prometheus.Registerer) error {
	for _, c := range []prometheus.Collector{m.lookups, m.imported} {
		if err := r.Register(c); err != nil {
			return err
		}
	}
	return nil
}

// Default records per import transaction. On SQLite every commit writes
// each index page that the batch touched to the WAL, and the blind index
// (random keys) spreads a batch over as many pages as it has rows: larger
// transactions share pages. Measured on 2 M demo residents
// (docs/benchmarks.md, "Registry"): 20000 needs about 30% less CPU time than
// 2000, at about 200 MB more peak memory.
const (
	sqliteImportBatch = 20000
	pgImportBatch     = 2000
)

// sortAutoBytes is the input size from which `registry import --sort auto`
// imports in two passes (about 400 000 demo residents): below it the
// random-order writes of a plain import stay in the page cache.
const sortAutoBytes = 64 << 20

func registryImport(ctx context.Context, args []string) error {
	var (
		format, sortMode, tmp string
		resume                = true
		batch, workers, show  int
		quiet                 bool
		reason                = "purpose=registry-load"
	)
	cfg, files, err := config.Load("registry import", args, os.Getenv, func(fs *flag.FlagSet) {
		fs.StringVar(&format, "format", "", "csv or jsonl (default: from the file name)")
		fs.BoolVar(&resume, "resume", true, "continue an interrupted import of the same file from its checkpoint")
		fs.IntVar(&batch, "batch", 0, "records per transaction (default: 20000 on SQLite, 2000 on PostgreSQL)")
		fs.IntVar(&workers, "workers", 0, "goroutines validating and sealing (default: number of CPUs)")
		fs.IntVar(&show, "max-errors", 1000, "print at most this many rejected lines (all are counted)")
		fs.BoolVar(&quiet, "quiet", false, "no progress bar")
		fs.StringVar(&sortMode, "sort", "auto", "two passes, writing in blind-index order (fast for large inputs): on, off, or auto (on from 64 MiB)")
		fs.StringVar(&reason, "reason", reason, `why (recorded once per file in every imported citizen's history): "purpose=P; case=C"`)
		fs.StringVar(&tmp, "tmp", "", "directory for the sorted runs of --sort (default: DATA/tmp; needs about 400 bytes per record)")
		fs.Usage = func() {
			fmt.Fprintln(fs.Output(), "usage: shenfen registry import [flags] FILE...")
			fs.PrintDefaults()
		}
	})
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return errors.New("usage: shenfen registry import [flags] FILE [FILE ...]")
	}
	switch sortMode {
	case "on", "off", "auto":
	default:
		return fmt.Errorf("--sort %q is not on, off or auto", sortMode)
	}
	why, err := operator.ParseReason(reason)
	if err != nil {
		return fmt.Errorf("--reason: %w", err)
	}
	a, err := openApp(ctx, cfg)
	if err != nil {
		return err
	}
	defer a.Close()
	a.importReason = why
	if batch <= 0 {
		batch = pgImportBatch
		if a.db.Dialect() == store.SQLite {
			batch = sqliteImportBatch
		}
	}
	if tmp == "" {
		tmp = filepath.Join(cfg.DataDir, "tmp")
	}
	for _, file := range files {
		opt := registry.ImportOptions{BatchSize: batch, Workers: workers, Resume: resume, TempDir: tmp}
		if fi, err := os.Stat(file); err == nil {
			opt.Sort = sortMode == "on" || sortMode == "auto" && fi.Size() >= sortAutoBytes
		}
		if opt.Sort {
			if err := os.MkdirAll(tmp, 0o700); err != nil {
				return err
			}
		}
		if err := importFile(ctx, a, file, format, opt, show, quiet); err != nil {
			return err
		}
	}
	return nil
}

func importFile(ctx context.Context, a *app, file, format string, opt registry.ImportOptions, show int, quiet bool) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	src := registry.Source{R: f, Size: fi.Size()}
	switch format {
	case "":
		if src.Format, err = registry.FormatOf(file); err != nil {
			return err
		}
	case "csv":
		src.Format = registry.CSV
	case "jsonl", "ndjson":
		src.Format = registry.JSONL
	default:
		return fmt.Errorf("--format %q is not csv or jsonl", format)
	}
	root, err := os.OpenRoot(filepath.Dir(file))
	if err != nil {
		return err
	}
	defer root.Close()
	src.Portraits = root.FS()
	if src.ID, err = registry.SourceID(f, fi.Size()); err != nil {
		return err
	}
	if err := a.recordBatch(ctx, src.ID, "registry.import", a.importReason); err != nil {
		return err
	}
	bar := newProgressBar(os.Stderr, quiet)
	shown := 0
	opt.Reject = func(line int64, err error) {
		if shown < show {
			bar.clear()
			fmt.Fprintf(os.Stderr, "%s: line %d: %v\n", file, line, err)
		}
		shown++
	}
	opt.Progress = bar.update
	sum, err := a.registry.Import(ctx, src, opt)
	bar.clear()
	if sum.ResumedAt > 0 {
		fmt.Printf("%s: resumed after line %d (the earlier run's checkpoint; --resume=false starts over)\n", file, sum.ResumedAt)
	}
	if sum.ResumedSkipped > 0 {
		fmt.Printf("%s: resumed the sorted import: %d records written by the earlier run skipped (--resume=false starts over)\n", file, sum.ResumedSkipped)
	}
	t := sum.Totals
	fmt.Printf("%s: read %d, inserted %d, updated %d, unchanged %d, rejected %d; this run %d records in %s (%.0f records/s)\n",
		file, t.Read, t.Inserted, t.Updated, t.Unchanged, t.Rejected, sum.ThisRun.Read, sum.Elapsed.Round(time.Millisecond), sum.Rate())
	if shown > show {
		fmt.Fprintf(os.Stderr, "%s: %d more rejected lines not shown (--max-errors)\n", file, shown-show)
	}
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return errors.New("interrupted; run the same command again to resume after the last committed batch")
		}
		return err
	}
	return nil
}

// progressBar draws an import's progress on a terminal, and nothing
// elsewhere.
type progressBar struct {
	w     io.Writer
	on    bool
	start time.Time
	last  time.Time
	drawn bool
}

func newProgressBar(f *os.File, quiet bool) *progressBar {
	return &progressBar{w: f, on: !quiet && term.IsTerminal(int(f.Fd())), start: time.Now()}
}

func (b *progressBar) update(p registry.Progress) {
	if !b.on || time.Since(b.last) < 200*time.Millisecond {
		return
	}
	b.last = time.Now()
	frac := 0.0
	if p.Size > 0 {
		frac = min(1, float64(p.Offset)/float64(p.Size))
	}
	const width = 30
	n := int(frac * width)
	label := ""
	switch p.Phase {
	case registry.PhaseRead:
		label = "1/2 read+sort "
	case registry.PhaseWrite:
		label = "2/2 write "
	}
	rate := float64(p.Totals.Read) / time.Since(b.start).Seconds()
	fmt.Fprintf(b.w, "\r%s[%s%s] %5.1f%%  %d records  %d rejected  %.0f/s ",
		label, strings.Repeat("=", n), strings.Repeat(" ", width-n), frac*100, p.Totals.Read, p.Totals.Rejected, rate)
	b.drawn = true
}

func (b *progressBar) clear() {
	if b.drawn {
		fmt.Fprint(b.w, "\r\033[K")
		b.drawn = false
	}
}

func registryShow(ctx context.Context, args []string) error {
	var portraitOut, reason string
	cfg, rest, err := config.Load("registry show", args, os.Getenv, func(fs *flag.FlagSet) {
		fs.StringVar(&portraitOut, "portrait-out", "", "write the portrait image to this file")
		reasonFlag(fs, &reason)
	})
	if err != nil {
		return err
	}
	if len(rest) != 1 {
		return errors.New("usage: shenfen registry show [flags] ID_NUMBER")
	}
	id, err := registry.ParseIDNumber(rest[0], time.Now())
	if err != nil {
		return err
	}
	a, err := openApp(ctx, cfg)
	if err != nil {
		return err
	}
	defer a.Close()
	why, err := operator.ParseReason(reason)
	if err != nil {
		return fmt.Errorf("--reason: %w", err)
	}
	r, err := a.registry.Get(ctx, id)
	if err != nil {
		return err
	}
	if err := a.recordCLI(ctx, id, string(operator.ReadRecord), why); err != nil {
		return err
	}
	if portraitOut != "" && r.Portrait != nil {
		if err := os.WriteFile(portraitOut, r.Portrait, 0o600); err != nil {
			return err
		}
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(admin.NewRecordDoc(r, false))
}

func registryAdd(ctx context.Context, args []string) error {
	var f struct{ id, name, sex, birth, ethnicity, address, authority, from, until, status, portrait, reason string }
	cfg, rest, err := config.Load("registry add", args, os.Getenv, func(fs *flag.FlagSet) {
		reasonFlag(fs, &f.reason)
		fs.StringVar(&f.id, "id", "", "18-character ID number (required)")
		fs.StringVar(&f.name, "name", "", "name (required)")
		fs.StringVar(&f.sex, "sex", "", "male or female (default: from the ID number)")
		fs.StringVar(&f.birth, "birth-date", "", "YYYY-MM-DD (default: from the ID number)")
		fs.StringVar(&f.ethnicity, "ethnicity", "", "ethnicity (optional)")
		fs.StringVar(&f.address, "address", "", "address (required)")
		fs.StringVar(&f.authority, "authority", "", "issuing authority (required)")
		fs.StringVar(&f.from, "valid-from", "", "YYYY-MM-DD (required)")
		fs.StringVar(&f.until, "valid-until", "", "YYYY-MM-DD; empty for long-term")
		fs.StringVar(&f.status, "status", "valid", "valid, cancelled or deceased")
		fs.StringVar(&f.portrait, "portrait", "", "JPEG or PNG portrait file")
	})
	if err != nil {
		return err
	}
	if len(rest) != 0 {
		return fmt.Errorf("unexpected arguments %q", rest)
	}
	r := registry.Record{IDNumber: registry.IDNumber(f.id), Name: f.name, Ethnicity: f.ethnicity, Address: f.address, Authority: f.authority}
	var errs []error
	if f.sex != "" {
		if r.Sex, err = registry.ParseSex(f.sex); err != nil {
			errs = append(errs, fmt.Errorf("sex: %w", err))
		}
	}
	if f.birth != "" {
		if r.BirthDate, err = registry.ParseDate(f.birth); err != nil {
			errs = append(errs, fmt.Errorf("birth_date: %w", err))
		}
	}
	if f.from != "" {
		if r.ValidFrom, err = registry.ParseDate(f.from); err != nil {
			errs = append(errs, fmt.Errorf("valid_from: %w", err))
		}
	}
	if r.ValidUntil, err = registry.ParseValidUntil(f.until); err != nil {
		errs = append(errs, fmt.Errorf("valid_until: %w", err))
	}
	if r.Status, err = registry.ParseStatus(f.status); err != nil {
		errs = append(errs, fmt.Errorf("status: %w", err))
	}
	if f.portrait != "" {
		if r.Portrait, err = os.ReadFile(f.portrait); err != nil {
			errs = append(errs, fmt.Errorf("portrait: %w", err))
		}
	}
	why, err := operator.ParseReason(f.reason)
	if err != nil {
		errs = append(errs, fmt.Errorf("--reason: %w", err))
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	a, err := openApp(ctx, cfg)
	if err != nil {
		return err
	}
	defer a.Close()
	out, err := a.registry.Put(ctx, r)
	if err != nil {
		return err
	}
	if err := a.recordCLI(ctx, r.IDNumber, string(operator.WriteRecord), why); err != nil {
		return err
	}
	fmt.Println(out)
	return nil
}

func registryStatus(ctx context.Context, args []string) error {
	var reason string
	cfg, rest, err := config.Load("registry status", args, os.Getenv, func(fs *flag.FlagSet) { reasonFlag(fs, &reason) })
	if err != nil {
		return err
	}
	why, err := operator.ParseReason(reason)
	if err != nil {
		return fmt.Errorf("--reason: %w", err)
	}
	if len(rest) != 2 {
		return errors.New("usage: shenfen registry status [flags] ID_NUMBER valid|cancelled|deceased")
	}
	id, err := registry.ParseIDNumber(rest[0], time.Now())
	if err != nil {
		return err
	}
	st, err := registry.ParseStatus(rest[1])
	if err != nil {
		return err
	}
	a, err := openApp(ctx, cfg)
	if err != nil {
		return err
	}
	defer a.Close()
	if err := a.registry.SetStatus(ctx, id, st); err != nil {
		return err
	}
	return a.recordCLI(ctx, id, string(operator.RecordStatus)+":"+string(st), why)
}

// reasonFlag is the --reason of the commands that read or change one
// citizen's record: required, recorded in the citizen's history.
func reasonFlag(fs *flag.FlagSet, p *string) {
	fs.StringVar(p, "reason", "", `why (required; recorded in the citizen's history): "purpose=P; case=C"`)
}

// demoSeed is the seed of the serve --demo registry.
const demoSeed = 1

func registryDemo(ctx context.Context, args []string) error {
	var (
		count    int
		seed     uint64
		out      string
		doImport bool
	)
	cfg, rest, err := config.Load("registry demo", args, os.Getenv, func(fs *flag.FlagSet) {
		fs.IntVar(&count, "count", 1000, "number of synthetic residents without portraits")
		fs.Uint64Var(&seed, "seed", demoSeed, "generator seed (same seed, same residents)")
		fs.StringVar(&out, "out", "", "write CSV to this file (default: standard output)")
		fs.BoolVar(&doImport, "import", false, "load the residents into the registry instead of writing CSV")
	})
	if err != nil {
		return err
	}
	if len(rest) != 0 {
		return fmt.Errorf("unexpected arguments %q", rest)
	}
	if count < 0 || uint64(count) > registry.DemoSpace {
		return fmt.Errorf("--count must be 0..%d", registry.DemoSpace)
	}
	faced, err := demoPortraits(cfg.FacesDir, seed)
	if err != nil {
		return err
	}
	bulk, err := registry.DemoRecords(seed, count)
	if err != nil {
		return err
	}
	all := func(yield func(registry.Record) bool) {
		for _, r := range faced {
			if !yield(r) {
				return
			}
		}
		bulk(yield)
	}
	if doImport {
		a, err := openApp(ctx, cfg)
		if err != nil {
			return err
		}
		defer a.Close()
		start := time.Now()
		t, err := a.registry.PutAll(ctx, all, 2000, func(r registry.Record, err error) {
			fmt.Fprintf(os.Stderr, "demo: %s rejected: %v\n", r.IDNumber, err)
		})
		if err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "demo: %d residents: inserted %d, updated %d, unchanged %d, rejected %d in %s\n",
			t.Read, t.Inserted, t.Updated, t.Unchanged, t.Rejected, time.Since(start).Round(time.Millisecond))
		return nil
	}
	w := io.Writer(os.Stdout)
	if out != "" {
		f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
		if err != nil {
			return err
		}
		defer f.Close()
		w = f
	}
	if err := registry.WriteCSV(w, true, iter.Seq[registry.Record](all)); err != nil {
		return err
	}
	if f, ok := w.(*os.File); ok && out != "" {
		return f.Close()
	}
	return nil
}

// demoPortraits returns the demo residents with portraits from the faces
// directory (none when it does not exist) and tells which ID number got
// which person's photo.
func demoPortraits(dir string, seed uint64) ([]registry.Record, error) {
	if dir == "" {
		return nil, nil
	}
	if _, err := os.Stat(dir); err != nil {
		return nil, nil
	}
	fsys := os.DirFS(dir)
	faces, err := registry.DemoFaces(fsys)
	if err != nil {
		return nil, fmt.Errorf("demo faces in %s: %w", dir, err)
	}
	recs, err := registry.DemoPortraitRecords(seed, fsys, faces)
	if err != nil {
		return nil, err
	}
	for i, r := range recs {
		fmt.Fprintf(os.Stderr, "demo portrait: %-14s %s  %s (%s)\n", faces[i].Person, r.IDNumber, r.Name, faces[i].File)
	}
	return recs, nil
}

// loadDemo fills an empty registry with the demo residents (serve --demo).
func loadDemo(ctx context.Context, a *app) error {
	n, err := a.registry.Count(ctx)
	if err != nil || n > 0 {
		return err
	}
	faced, err := demoPortraits(a.cfg.FacesDir, demoSeed)
	if err != nil {
		return err
	}
	bulk, err := registry.DemoRecords(demoSeed, a.cfg.DemoCount)
	if err != nil {
		return err
	}
	all := func(yield func(registry.Record) bool) {
		for _, r := range faced {
			if !yield(r) {
				return
			}
		}
		bulk(yield)
	}
	t, err := a.registry.PutAll(ctx, all, 2000, func(r registry.Record, err error) {
		a.log.Warn("demo resident rejected", "reason", err.Error())
	})
	if err != nil {
		return fmt.Errorf("demo registry: %w", err)
	}
	a.log.Info("loaded the demo registry", "residents", t.Inserted, "with_portraits", len(faced))
	return nil
}
