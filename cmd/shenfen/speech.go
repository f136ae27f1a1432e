package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/shenfen/shenfen/biometric/speech"
)

func init() {
	commands["speech"] = command{"spoken-digit check of a WAV recording: speech check FILE.wav DIGITS", runSpeech}
}

const speechUsage = `usage: shenfen speech check [-model DIR] [-lang en|zh] FILE.wav DIGITS

Decodes FILE.wav (PCM 8/16/24/32-bit or float, mono or stereo, 8-48 kHz,
0.5-15 s), refuses silence and clipping, and verifies with PocketSphinx
that the recording holds DIGITS read aloud in the language, as the
enrollment does. Prints the decision and each digit's time span; exits 1
when the recording is refused.
`

func runSpeech(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] != "check" {
		fmt.Fprint(os.Stderr, speechUsage)
		return fmt.Errorf("missing subcommand")
	}
	fs := flag.NewFlagSet("speech check", flag.ContinueOnError)
	model := fs.String("model", speech.DefaultModelDir, "PocketSphinx US English model directory")
	lang := fs.String("lang", string(speech.English), "language the digits are read in: en or zh")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if fs.NArg() != 2 {
		fmt.Fprint(os.Stderr, speechUsage)
		return fmt.Errorf("want FILE.wav and DIGITS")
	}
	wav, err := os.ReadFile(fs.Arg(0))
	if err != nil {
		return err
	}
	rec, err := speech.NewSphinx(speech.SphinxConfig{ModelDir: *model, Decoders: 1})
	if err != nil {
		return err
	}
	defer rec.Close()
	v, err := speech.VerifyWAV(ctx, rec, wav, fs.Arg(1), speech.Lang(*lang))
	if err != nil {
		return err
	}
	fmt.Printf("%s: score %.2f, %.1f s (%s)\n", v.Reason, v.Score, v.Duration.Seconds(), v.Model)
	for _, w := range v.Words {
		fmt.Printf("  %c  %6.2f s - %6.2f s\n", w.Digit, w.Start.Seconds(), w.End.Seconds())
	}
	if !v.Accepted {
		os.Exit(1)
	}
	return nil
}
