# The README's commands, and the checks CI runs.
.PHONY: run test lint bench build

run:
	go run ./cmd/mainstay serve --demo

test:
	go test ./...

lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); exit 1; }
	go vet ./...
	go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

bench:
	go test -run='^$$' -bench=. -benchmem ./...

build:
	go build -trimpath -o bin/mainstay ./cmd/mainstay
