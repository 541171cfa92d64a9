# vios — the Vision-IoS governance pipeline.
# Needs Go 1.26 and git (tests use the git CLI as an independent verifier).

GO        ?= go
BIN       := bin/vios
PKGS      := ./...
export GOTOOLCHAIN := local

.DEFAULT_GOAL := help

.PHONY: help
help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-8s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: build
# CGO_ENABLED=0: a static binary (Go's own DNS resolver and user lookup)
# skips the dynamic loader at every start, about 7 ms of `vios freeze check`.
build: ## build bin/vios
	CGO_ENABLED=0 $(GO) build -o $(BIN) ./cmd/vios

.PHONY: demo
demo: build ## run the main job on embedded defaults (7 simulated days of hourly cycles)
	./$(BIN) demo $(DEMO_ARGS)

.PHONY: test
test: ## run all tests with the race detector
	$(GO) test -race -count=1 $(PKGS)

.PHONY: bench
bench: build ## benchmarks, plus the same work through the git CLI for the ratio
	{ $(GO) test -run='^$$' -bench='Ed25519Verify|VerifyStatement' -count=1 ./internal/signing/ && \
	  $(GO) test -run='^$$' -bench='SignedCommit' -benchtime=2000x -count=1 ./internal/ledger/ && \
	  $(GO) test -run='^$$' -bench='CommitFlatness' -benchtime=1x -count=1 -timeout=30m ./internal/ledger/ && \
	  $(GO) test -run='^$$' -bench='Cycle' -benchtime=500x -count=1 ./internal/cycle/ && \
	  $(GO) test -run='^$$' -bench='AuditVerify' -benchtime=30x -count=1 ./internal/audit/ && \
	  $(GO) test -run='^$$' -bench='DailyReport|Guard' -benchtime=5x -count=1 -timeout=60m ./internal/costreport/ && \
	  $(GO) test -run='^$$' -bench='Replay' -benchtime=10x -count=1 ./internal/determinism/ && \
	  $(GO) test -run='^$$' -bench='WeeklyAttestation' -benchtime=5x -count=1 ./internal/attest/ && \
	  $(GO) test -run='^$$' -bench='FreezeCheck' -count=1 ./internal/freeze/ && \
	  $(GO) test -run='^$$' -bench='Tick' -benchtime=5x -count=1 ./internal/sla/ && \
	  $(GO) test -run='^$$' -bench='ConcurrentPush' -benchtime=1x -count=1 -timeout=30m ./internal/remote/ ; } | tee .bench.txt
	./scripts/bench-git.sh
	./scripts/bench-freeze.sh

.PHONY: lint
lint: ## go vet, staticcheck, gofmt and actionlint
	$(GO) vet $(PKGS)
	$(GO) tool staticcheck $(PKGS)
	$(GO) tool actionlint .github/workflows/*.yml
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); exit 1)

.PHONY: fuzz
FUZZ_TIME ?= 20s
FUZZ_TARGETS := \
	internal/market:FuzzParseKlines internal/market:FuzzParseCSV internal/news:FuzzParseJSONLines \
	internal/cycle:FuzzParseLog internal/cycle:FuzzParseEvidence internal/cycle:FuzzEvidenceReader \
	internal/signing:FuzzBatchMatchesStdlib internal/policy:FuzzDecodePolicy \
	internal/llm:FuzzParseChatResponse internal/changereq:FuzzParseDocument \
	internal/freeze:FuzzParseManifest internal/freeze:FuzzDeclaredPaths \
	internal/ledger:FuzzParseTree internal/ledger:FuzzApplyDelta internal/ledger:FuzzStored \
	internal/jsonscan:FuzzMatchesJSONText
fuzz: ## run every fuzz target for FUZZ_TIME (default 20s)
	@for t in $(FUZZ_TARGETS); do pkg=$${t%%:*}; fn=$${t##*:}; \
	  echo "== $$pkg $$fn"; $(GO) test -run='^$$' -fuzz="^$$fn$$" -fuzztime=$(FUZZ_TIME) ./$$pkg/ || exit 1; done

.PHONY: clean
clean: ## remove build output
	rm -rf bin .bench.txt
