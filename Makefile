# shenfen: the two commands are "make run" and "make test" (see README.md).
.PHONY: run test build bench setup

run:
	scripts/run.sh

test:
	scripts/test.sh

setup:
	scripts/setup.sh

build:
	go build -o bin/shenfen ./cmd/shenfen

bench:
	scripts/bench.sh
