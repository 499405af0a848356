# The two commands: `make run` serves the product, `make test` runs every test.
# Both provision what is missing first (scripts/provision.sh) and are safe to run twice.
SHELL := /bin/bash
export PATH := /usr/local/go/bin:$(PATH)
TRAEFIK_VERSION ?= v3.6.12
TRAEFIK_BIN ?= /var/cache/dokploy/traefik-$(TRAEFIK_VERSION)
PEBBLE_VERSION ?= v2.10.1
PEBBLE_BIN ?= /var/cache/dokploy/bin/pebble
MINIO_MODULE ?= github.com/minio/minio@v0.0.0-20260212201848-7aac2a2c5b7c
MINIO_BIN ?= /var/cache/dokploy/bin/minio
MAILPIT_MODULE ?= github.com/axllent/mailpit@v1.33.1
MAILPIT_BIN ?= /var/cache/dokploy/bin/mailpit
GOLANGCI_LINT_VERSION ?= v2.15.0
GOLANGCI_LINT_BIN ?= /var/cache/dokploy/bin/golangci-lint-$(GOLANGCI_LINT_VERSION)

.PHONY: run test build image provision provision-test traefik pebble minio mailpit db-images vet lint bench bench-routing clean

run: provision build
	./bin/dokploy serve

# The linter includes go vet's checks.
test: provision-test traefik pebble minio mailpit db-images
	@$(MAKE) --no-print-directory lint
	DOKPLOY_INTEGRATION=1 DOKPLOY_MULTINODE=1 \
	DOKPLOY_TRAEFIK_BIN=$(TRAEFIK_BIN) \
	DOKPLOY_PEBBLE_BIN=$(PEBBLE_BIN) \
	DOKPLOY_MINIO_BIN=$(MINIO_BIN) \
	DOKPLOY_MAILPIT_BIN=$(MAILPIT_BIN) \
	go test -race -count=1 -timeout 60m ./...

build: static/vendor/htmx.min.js static/vendor/uPlot.iife.min.js static/vendor/xterm.js
	CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o bin/dokploy .

image:
	bash scripts/build-image.sh

provision:
	bash scripts/provision.sh

provision-test:
	WITH_TEST_TOOLS=1 bash scripts/provision.sh

static/vendor/htmx.min.js static/vendor/uPlot.iife.min.js static/vendor/xterm.js:
	bash scripts/provision.sh

traefik:
	bash scripts/build-traefik.sh $(TRAEFIK_VERSION) $(TRAEFIK_BIN)
	bash scripts/build-traefik-image.sh $(TRAEFIK_VERSION) $(TRAEFIK_BIN)

# Pebble, Let's Encrypt's test CA, for the ACME end-to-end test.
pebble:
	@test -x $(PEBBLE_BIN) || CGO_ENABLED=0 GOBIN=$(dir $(PEBBLE_BIN)) go install github.com/letsencrypt/pebble/v2/cmd/pebble@$(PEBBLE_VERSION)

# MinIO, an S3 server for the backup tests (a test server only, not linked into dokploy).
minio:
	bash scripts/build-go-tool.sh $(MINIO_MODULE) $(MINIO_BIN)

# Mailpit, an SMTP server with an HTTP API, for the email notification tests (a test server only).
mailpit:
	bash scripts/build-go-tool.sh $(MAILPIT_MODULE) $(MAILPIT_BIN)

# Local stand-ins for the official database images (no registry here); cached, seconds when warm.
db-images:
	bash scripts/build-db-images.sh

bench-routing:
	bash scripts/bench-routing.sh

vet:
	go vet ./...

# golangci-lint at a pinned version (config: .golangci.yml), built once into the cache.
lint:
	@bash scripts/build-lint.sh $(GOLANGCI_LINT_VERSION) $(GOLANGCI_LINT_BIN) >/dev/null
	$(GOLANGCI_LINT_BIN) run ./...

bench:
	bash scripts/bench.sh

clean:
	rm -rf bin
