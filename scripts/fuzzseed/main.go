// Command fuzzseed writes files as seed-corpus entries of a Go fuzz target
// (testdata/fuzz/FuzzName/NAME in the "go test fuzz v1" format), one per
// input file, each named after its input. scripts/fuzz-seeds.sh uses it to
// turn real images, recordings and ID numbers into seeds.
//
//	go run ./scripts/fuzzseed -dir biometric/face/testdata/fuzz/FuzzDecodeImage -type bytes FILE...
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

func main() {
	dir := flag.String("dir", "", "corpus directory (testdata/fuzz/FuzzName)")
	typ := flag.String("type", "bytes", "argument type of the fuzz function: bytes or string")
	lines := flag.Bool("lines", false, "one seed per line of each file instead of one per file")
	flag.Parse()
	if *dir == "" || (*typ != "bytes" && *typ != "string") {
		log.Fatal("usage: fuzzseed -dir DIR [-type bytes|string] [-lines] FILE...")
	}
	if err := os.MkdirAll(*dir, 0o755); err != nil {
		log.Fatal(err)
	}
	for _, in := range flag.Args() {
		b, err := os.ReadFile(in)
		if err != nil {
			log.Fatal(err)
		}
		base := strings.TrimSuffix(filepath.Base(in), filepath.Ext(in))
		inputs := map[string]string{base: string(b)}
		if *lines {
			inputs = map[string]string{}
			for i, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
				inputs[fmt.Sprintf("%s-%03d", base, i)] = l
			}
		}
		for name, v := range inputs {
			lit := "[]byte(" + strconv.Quote(v) + ")"
			if *typ == "string" {
				lit = "string(" + strconv.Quote(v) + ")"
			}
			out := filepath.Join(*dir, "seed-"+name)
			if err := os.WriteFile(out, []byte("go test fuzz v1\n"+lit+"\n"), 0o644); err != nil {
				log.Fatal(err)
			}
		}
	}
}
