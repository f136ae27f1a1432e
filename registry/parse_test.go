package registry

import (
	"bytes"
	"encoding/base64"
	"errors"
	"image"
	"image/png"
	"io"
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

func tinyPNG(t testing.TB) []byte {
	var b bytes.Buffer
	if err := png.Encode(&b, image.NewGray(image.Rect(0, 0, 20, 20))); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// decodeAll runs a decoder to the end.
func decodeAll(t testing.TB, d decoder) []*rawLine {
	var out []*rawLine
	for {
		raw, err := d.next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("decoder: %v", err)
		}
		out = append(out, raw)
	}
}

func TestCSVHeader(t *testing.T) {
	tests := []struct {
		header, err string
	}{
		{"id_number,name,address,authority,valid_from", ""},
		{"\ufeffID_Number, name ,address,authority,valid_from,portrait", ""},
		{"", "empty input"},
		{"id_number,name,address,authority", `required column "valid_from" missing`},
		{"id_number,name,address,authority,valid_from,nmae", `unknown column "nmae"`},
		{"id_number,name,name,address,authority,valid_from", `column "name" twice`},
	}
	for _, tc := range tests {
		in := tc.header + "\nrest"
		if tc.header == "" {
			in = ""
		}
		_, end, err := readCSVHeader(strings.NewReader(in))
		if tc.err == "" {
			if err != nil || end != int64(len(tc.header)+1) {
				t.Errorf("%q: end %d, %v", tc.header, end, err)
			}
			continue
		}
		if !errors.Is(err, ErrHeader) || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%q: %v, want %q", tc.header, err, tc.err)
		}
	}
}

func TestCSVDecoderLinesAndOffsets(t *testing.T) {
	in := "id_number,name,address,authority,valid_from\n" +
		"440115199003071238,王芳,\"广州\n南沙\",局,2015-01-01\n" + // a quoted newline: lines 2-3
		"bad\n" + // line 4: wrong field count
		"11010519491231002X,赵敏,北京,局,2001-01-01\n"
	cols, end, err := readCSVHeader(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	lines := decodeAll(t, newCSVDecoder(strings.NewReader(in[end:]), cols, end, 1))
	if len(lines) != 3 {
		t.Fatalf("%d records", len(lines))
	}
	want := []struct{ line, last int64 }{{2, 3}, {4, 4}, {5, 5}}
	for i, w := range want {
		if lines[i].line != w.line || lines[i].last != w.last {
			t.Errorf("record %d: lines %d-%d, want %d-%d", i, lines[i].line, lines[i].last, w.line, w.last)
		}
	}
	if lines[1].err == nil || !strings.Contains(lines[1].err.Error(), "1 fields, the header has 5") {
		t.Errorf("field count error %v", lines[1].err)
	}
	if lines[2].end != int64(len(in)) || lines[2].fields[colName] != "赵敏" {
		t.Errorf("last record end %d of %d, name %q", lines[2].end, len(in), lines[2].fields[colName])
	}
	// Resuming at a record's end offset continues with the next record.
	rest := decodeAll(t, newCSVDecoder(strings.NewReader(in[lines[1].end:]), cols, lines[1].end, lines[1].last))
	if len(rest) != 1 || rest[0].line != 5 || rest[0].fields[colID] != "11010519491231002X" {
		t.Fatalf("resumed decode: %+v", rest)
	}
}

func TestJSONLDecoder(t *testing.T) {
	long := `{"name":"` + strings.Repeat("a", MaxLineBytes) + `"}`
	in := `{"id_number":"440115199003071238","name":"王芳","address":"广州","authority":"局","valid_from":"2015-01-01"}` + "\n" +
		"\n" + // blank: skipped, still counted
		`{"id_number":1}` + "\n" +
		`{"id_number":"x","extra":"y"}` + "\n" +
		long + "\n" +
		`{"name":"a"} {"name":"b"}` + "\n" +
		`{"name":"last, no newline"}`
	lines := decodeAll(t, newJSONLDecoder(strings.NewReader(in), 0, 0))
	want := []struct {
		line int64
		err  string
	}{{1, ""}, {3, "cannot unmarshal number"}, {4, `unknown field "extra"`}, {5, "longer than"}, {6, "more than one value"}, {7, ""}}
	if len(lines) != len(want) {
		t.Fatalf("%d records, want %d", len(lines), len(want))
	}
	for i, w := range want {
		l := lines[i]
		if l.line != w.line {
			t.Errorf("record %d on line %d, want %d", i, l.line, w.line)
		}
		if (w.err == "") != (l.err == nil) || (l.err != nil && !strings.Contains(l.err.Error(), w.err)) {
			t.Errorf("line %d: error %v, want %q", l.line, l.err, w.err)
		}
	}
	if lines[0].fields[colName] != "王芳" || lines[5].end != int64(len(in)) {
		t.Errorf("fields %q, end %d of %d", lines[0].fields[colName], lines[5].end, len(in))
	}
}

func TestRecordFromFields(t *testing.T) {
	img := tinyPNG(t)
	fsys := fstest.MapFS{"photos/a.png": {Data: img}, "junk.png": {Data: []byte("not an image")}}
	base := [numCols]string{colID: "440115199003071238", colName: "王芳", colAddress: "广东省广州市", colAuthority: "局", colValidFrom: "2015-01-01"}
	with := func(col int, v string) [numCols]string { f := base; f[col] = v; return f }
	tests := []struct {
		name   string
		fields [numCols]string
		errs   []string
	}{
		{"minimal", base, nil},
		{"portrait path", with(colPortrait, "photos/a.png"), nil},
		{"portrait ./path", with(colPortrait, "./photos/a.png"), nil},
		{"portrait base64", with(colPortrait, "base64:"+base64.StdEncoding.EncodeToString(img)), nil},
		{"long-term", with(colValidUntil, "长期"), nil},
		{"sex 男", with(colSex, "男"), nil},
		{"portrait escapes", with(colPortrait, "../secret.png"), []string{"portrait: \"../secret.png\" must be a relative path"}},
		{"portrait absolute", with(colPortrait, "/etc/passwd"), []string{"must be a relative path"}},
		{"portrait missing", with(colPortrait, "photos/b.png"), []string{`cannot open "photos/b.png"`}},
		{"portrait junk", with(colPortrait, "junk.png"), []string{"portrait: not a JPEG or PNG"}},
		{"portrait bad base64", with(colPortrait, "base64:!!"), []string{"invalid base64"}},
		{"bad date", with(colValidFrom, "2015/01/01"), []string{"valid_from: \"2015/01/01\" is not a date"}},
		{"bad sex", with(colSex, "x"), []string{"sex: \"x\" is not male"}},
		{"wrong sex", with(colSex, "female"), []string{"sex: female, but the ID number's sequence digit 3 says male"}},
		{"wrong birth", with(colBirth, "1990-03-08"), []string{"birth_date: 1990-03-08, but the ID number says 1990-03-07"}},
		{"bad status", with(colStatus, "dead"), []string{"status: \"dead\" is not valid"}},
		{"until before from", with(colValidUntil, "2014-01-01"), []string{"valid_until: 2014-01-01 is not after valid_from"}},
		{"missing name", with(colName, " "), []string{"name: missing"}},
		{"control char", with(colName, "王\u200b芳"), []string{"name: contains control or invisible character U+200B"}},
		{"bad UTF-8", with(colAddress, "广\xff"), []string{"address: not valid UTF-8"}},
		{"long name", with(colName, strings.Repeat("王", 65)), []string{"name: 65 characters, at most 64"}},
		{"bad id and date", func() [numCols]string { f := with(colID, "440115199003071232"); f[colValidFrom] = "x"; return f }(),
			[]string{"valid_from:", "id_number: check character"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := recordFromFields(&tc.fields, fsys)
			if err == nil {
				err = r.Normalize(time.Now())
			}
			if tc.errs == nil {
				if err != nil {
					t.Fatalf("error %v", err)
				}
				if r.Sex != Male || r.BirthDate.Format(time.DateOnly) != "1990-03-07" {
					t.Fatalf("not filled from the ID number: %s %v", r.Sex, r.BirthDate)
				}
				return
			}
			var inv *InvalidError
			if !errors.As(err, &inv) || !errors.Is(err, ErrInvalidRecord) {
				t.Fatalf("error %v is not an *InvalidError", err)
			}
			for _, want := range tc.errs {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
		})
	}
}

func FuzzCSVImport(f *testing.F) {
	f.Add("id_number,name,address,authority,valid_from\n440115199003071238,王芳,广州,局,2015-01-01\n")
	f.Add("id_number,name,address,authority,valid_from,portrait\n\"a\nb\",x,y,z,2015-01-01,base64:AA==\nbad\n")
	f.Add("\ufeffid_number,name,address,authority,valid_from,status,sex\n11010519491231002x,赵,北京,局,20010101,deceased,女\n")
	f.Fuzz(func(t *testing.T, in string) {
		cols, end, err := readCSVHeader(strings.NewReader(in))
		if err != nil {
			return
		}
		prevEnd, prevLine := end, int64(1)
		for _, raw := range decodeAll(t, newCSVDecoder(strings.NewReader(in[end:]), cols, end, 1)) {
			if raw.end < prevEnd || raw.end > int64(len(in)) || raw.line <= prevLine-1 || raw.last < raw.line {
				t.Fatalf("positions went wrong: end %d after %d, lines %d-%d after %d", raw.end, prevEnd, raw.line, raw.last, prevLine)
			}
			prevEnd, prevLine = raw.end, raw.last
			if raw.err != nil {
				continue
			}
			r, err := recordFromFields(&raw.fields, nil)
			if err == nil {
				err = r.Normalize(time.Now())
			}
			if err != nil && !errors.Is(err, ErrInvalidRecord) {
				t.Fatalf("unexpected error kind %v", err)
			}
		}
	})
}

func FuzzJSONLImport(f *testing.F) {
	f.Add(`{"id_number":"440115199003071238","name":"王芳","address":"广州","authority":"局","valid_from":"2015-01-01"}` + "\n")
	f.Add("{}\n\n{\"name\":1}\n[]\n{\"portrait\":\"base64:AA\"}")
	f.Fuzz(func(t *testing.T, in string) {
		prev := int64(0)
		for _, raw := range decodeAll(t, newJSONLDecoder(strings.NewReader(in), 0, 0)) {
			if raw.end < prev || raw.end > int64(len(in)) {
				t.Fatalf("offset %d after %d", raw.end, prev)
			}
			prev = raw.end
			if raw.err != nil {
				continue
			}
			if _, err := recordFromFields(&raw.fields, nil); err != nil && !errors.Is(err, ErrInvalidRecord) {
				t.Fatalf("unexpected error kind %v", err)
			}
		}
	})
}

func TestDemo(t *testing.T) {
	seen := map[IDNumber]bool{}
	now := time.Now()
	for i := 0; i < 20000; i++ {
		r := DemoRecord(7, i)
		if seen[r.IDNumber] {
			t.Fatalf("demo resident %d repeats ID number %s", i, r.IDNumber)
		}
		seen[r.IDNumber] = true
		if err := r.Normalize(now); err != nil {
			t.Fatalf("demo resident %d invalid: %v", i, err)
		}
		if r.IDNumber[14] == '9' {
			t.Fatalf("bulk resident %d uses a portrait sequence number", i)
		}
	}
	if a, b := DemoRecord(7, 5), DemoRecord(7, 5); a.Name != b.Name || a.Address != b.Address || a.IDNumber != b.IDNumber || DemoRecord(7, 5).IDNumber == DemoRecord(8, 5).IDNumber {
		t.Fatal("demo is not deterministic per seed")
	}
	for k, sex := range []Sex{Male, Female, Male} {
		r := DemoPortraitRecord(1, k, sex)
		if err := r.Normalize(now); err != nil || r.Sex != sex || r.IDNumber.AddressCode() != "440115" {
			t.Fatalf("portrait resident %d: %v %s %s", k, err, r.Sex, r.IDNumber)
		}
	}
	fsys := fstest.MapFS{
		"zed/b.jpg": {Data: []byte("b")}, "zed/a.png": {Data: tinyPNG(t)}, "rose_leslie/img1.jpg": {Data: []byte("r")},
		"group/x.jpg": {Data: []byte("g")}, "empty/readme.txt": {Data: []byte("t")},
	}
	faces, err := DemoFaces(fsys)
	if err != nil {
		t.Fatal(err)
	}
	if len(faces) != 2 || faces[0].File != "rose_leslie/img1.jpg" || faces[0].Sex != Female || faces[1].File != "zed/a.png" || faces[1].Sex != Male {
		t.Fatalf("DemoFaces = %+v", faces)
	}
	recs, err := DemoPortraitRecords(1, fsys, faces)
	if err != nil || len(recs) != 2 || recs[1].Portrait == nil || recs[0].Sex != Female {
		t.Fatalf("DemoPortraitRecords: %v", err)
	}
	// WriteCSV output parses back to the same residents.
	var b bytes.Buffer
	seq, _ := DemoRecords(3, 50)
	if err := WriteCSV(&b, true, seq); err != nil {
		t.Fatal(err)
	}
	in := b.String()
	cols, end, err := readCSVHeader(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	for i, raw := range decodeAll(t, newCSVDecoder(strings.NewReader(in[end:]), cols, end, 1)) {
		r, err := recordFromFields(&raw.fields, nil)
		if err == nil {
			err = r.Normalize(now)
		}
		want := DemoRecord(3, i)
		if err != nil || r.IDNumber != want.IDNumber || r.Name != want.Name || !r.ValidUntil.Equal(want.ValidUntil) || r.Status != want.Status {
			t.Fatalf("line %d: %+v, %v; want %+v", raw.line, r, err, want)
		}
	}
}
