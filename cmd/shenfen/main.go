// Command shenfen is the one binary of the shenfen identity platform:
//
//	shenfen serve              run the HTTP server (wallet, verifier, admin, OIDC, OpenID4VC)
//	shenfen registry ...       import, add, show and generate population registry records
//	shenfen version            print the version
//
// Run "shenfen help" for every subcommand, and "shenfen CMD -h" for its flags.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"sort"
	"syscall"
)

// command is one subcommand.
type command struct {
	summary string
	run     func(ctx context.Context, args []string) error
}

// commands is filled by each subcommand's file from init.
var commands = map[string]command{}

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func init() {
	commands["version"] = command{"print the version", func(ctx context.Context, args []string) error {
		fmt.Println("shenfen", version)
		return nil
	}}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: shenfen COMMAND [flags]\n\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(os.Stderr, "  %-12s %s\n", n, commands[n].summary)
	}
}

func main() {
	if len(os.Args) < 2 || os.Args[1] == "help" || os.Args[1] == "-h" || os.Args[1] == "--help" {
		usage()
		if len(os.Args) < 2 {
			os.Exit(2)
		}
		return
	}
	cmd, ok := commands[os.Args[1]]
	if !ok {
		fmt.Fprintf(os.Stderr, "shenfen: unknown command %q\n\n", os.Args[1])
		usage()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := cmd.run(ctx, os.Args[2:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintf(os.Stderr, "shenfen %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}
