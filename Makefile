# hookflow — see README.md.
GO            ?= go
WORKFLOWCHECK ?= go.temporal.io/sdk/contrib/tools/workflowcheck@v0.6.0
DATA          ?= .hookflow
FLOWS         ?= examples

FUZZTIME      ?= 20s

.PHONY: run build docs test test-short test-cluster images fuzz bench bench-attribution bench-growth bench-cluster bench-cluster-growth bench-observed bench-longrun soak-timers soak-flowcontrol lint lint-deploy fmt record-histories clean

## run: hookflow dev — embedded Temporal server, Web UI, worker and API, serving examples/
run: build
	./bin/hookflow dev --flows $(FLOWS) --data $(DATA) --allow-host 127.0.0.1

## build: the single binary in bin/
build:
	$(GO) build -o bin/hookflow ./cmd/hookflow

## docs: the JSON Schemas (schemas/) and the reference (docs/reference/) from the code: the file
## formats by cmd/docgen (no Temporal in its build), the CLI's page by the hidden hookflow docs;
## tests in ./reference and ./cmd/hookflow fail when the committed files differ from these
docs:
	$(GO) run ./cmd/docgen
	$(GO) run ./cmd/hookflow docs --dir docs/reference

## test: every test, the end-to-end ones against an in-process Temporal server
test:
	$(GO) test -count=1 -timeout 20m ./...

## test-short: the fast layer, no Temporal server: -tags nodev leaves out the test files that need the
## embedded one (tests/, devserver/, bench/, cmd/hookflow's schedules at start, each marked
## //go:build !nodev), so no test binary links it; -short skips the waits for real intervals
test-short:
	$(GO) test -count=1 -short -tags nodev ./...

## test-cluster: the cluster suite (tests/cluster, testcontainers-go): builds the images, then
## PostgreSQL, Temporal, 2 api and 2 worker containers and a receiver, under faults
test-cluster: images
	TESTCONTAINERS_RYUK_DISABLED=true $(GO) test -tags cluster -count=1 -timeout 30m -v ./tests/cluster

## images: the cluster images, built here with no registry (deploy/images/build.sh):
## hookflow-debian (debootstrap), hookflow-postgres, hookflow-temporal, hookflow, hookflow-receiver;
## an image whose inputs are unchanged is skipped
images:
	GO="$(GO)" deploy/images/build.sh

## bench: hookflow side by side with its Temporal floor; writes bench/results.json
bench:
	$(GO) run ./bench/run -out bench/results.json

## bench-attribution: where a sync trigger's and a send's cost go: floor variants, the delivery floor,
## trigger-to-receipt, a sync trigger after 2,000 async ones; interleaved rounds, medians of per-round ratios
bench-attribution:
	$(GO) run ./bench/run -attribution-rounds 5 -callers 1,16 -cell 2s -out bench/attribution.json

## bench-growth: triggers and deliveries on a fresh data directory, then after 20,000 more runs in it
bench-growth:
	$(GO) run ./bench/run -growth 20000 -callers 1,16 -deliveries 300 -cell 3s -out bench/growth.json

## bench-cluster: the same side by side against the compose cluster (Temporal on PostgreSQL), with 1 and 2 workers,
## 3 interleaved rounds, the delivery floor and each run's cost in Temporal's and PostgreSQL's counters (about 15 min);
## builds the images, brings deploy/docker-compose.yaml up as its own project, takes it down; writes bench/cluster.json
CLUSTER_CELLS = -rounds 3 -cell 3s -deliveries 300 -callers 1,16 -only "floor: Update-With-Start,hookflow: sync trigger,floor: StartWorkflow,hookflow: async trigger"
bench-cluster: images
	$(GO) run ./bench/cluster $(CLUSTER_CELLS) -workers 1,2 -out bench/cluster.json

## bench-cluster-growth: the cluster's cells fresh, then after 20,000 more runs, and what PostgreSQL holds per run
## (1 worker, about 17 min); writes bench/cluster-growth.json
bench-cluster-growth: images
	$(GO) run ./bench/cluster $(CLUSTER_CELLS) -workers 1 -growth 20000 -out bench/cluster-growth.json

## bench-observed: hookflow with metrics, tracing and encryption off vs on; writes bench/observed.json
bench-observed:
	$(GO) run ./bench/run -observed-rounds 3 -callers 1,16 -deliveries 300 -cell 3s -out bench/observed.json

## bench-longrun: one loop of 10,000 sends at concurrency 1 and 16 (time, continue-as-new runs, history per run)
bench-longrun:
	HOOKFLOW_LONGRUN_CONCURRENCY=1 $(GO) test -count=1 -timeout 30m -run TestLoopOfTenThousandSends -v ./tests | grep -E 'sends at|PASS|FAIL'
	HOOKFLOW_LONGRUN_CONCURRENCY=16 $(GO) test -count=1 -timeout 30m -run TestLoopOfTenThousandSends -v ./tests | grep -E 'sends at|PASS|FAIL'

## soak-timers: 2,000 runs on the embedded server, each with five 1 s delays beside a loop of short
## delays; every run completes and every timer fires (the suite runs 200)
soak-timers:
	HOOKFLOW_SOAK_RUNS=2000 $(GO) test -count=1 -timeout 30m -run TestRunsOfDelaysAllCompleteWithEveryTimerFired -v ./tests | grep -E 'runs,|PASS|FAIL'

## soak-flowcontrol: flow control at scale: one key with 10,000 events waiting, and 10,000 events over
## 1,000 keys; every run completes once (times and coordinator hand-overs in the log)
soak-flowcontrol:
	HOOKFLOW_FC_SCALE=10000 $(GO) test -count=1 -timeout 60m -run TestFlowControlAtScale -v ./tests | grep -E 'events accepted|waiting on|PASS|FAIL'

## fuzz: fuzz the trigger handler (FUZZTIME=5m for a longer run)
fuzz:
	$(GO) test ./api -run '^$$' -fuzz FuzzTrigger -fuzztime $(FUZZTIME)

## lint: gofmt, go vet (also with -tags nodev, the build of make test-short), workflowcheck on the workflow code, the schema check of deploy/,
## every relative link and anchor in README.md and docs/*.md (tests/docs), and that imports
## run down the layers (tests/layering)
lint: lint-deploy
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "not gofmt-formatted:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) vet -tags nodev ./...
	$(GO) run $(WORKFLOWCHECK) -config workflowcheck.config.yaml ./workflows/...
	$(GO) test -count=1 ./tests/docs ./tests/layering

## lint-deploy: docker-compose.yaml against the Compose schema, the Kubernetes
## manifests strictly against the API's types (deploy/check, its own module)
lint-deploy:
	cd deploy/check && $(GO) vet ./... && $(GO) test -count=1 ./... && $(GO) run . -compose ../docker-compose.yaml -kubernetes ../kubernetes

fmt:
	gofmt -w $$(git ls-files '*.go')

## record-histories: re-record workflows/testdata from real runs (after an intended change)
record-histories:
	$(GO) test -count=1 ./tests -run TestHistoriesReplay -record

clean:
	rm -rf bin $(DATA)
