# probinv: set-up, tests and notebooks. Each target installs what it needs and skips what is there.
#
#   make notebook   Jupyter + GoNB, then a Jupyter server on notebooks/ at http://127.0.0.1:$(PORT)
#   make test       go vet + go test (pure-Go backend, no cgo), notebooks executed headless
#   make bench      `sbikit bench`: one JSON line per benchmark, naming the backend (BENCH=regexp)
#   make deps       only the installs: Debian packages, ./.bin tools, GoNB kernel spec
#
# Jupyter and the Python packages come from Debian and live under /usr/bin/python3; a pyenv
# python3 first on PATH does not see them, so Jupyter is always called as /usr/bin/jupyter.
# GoNB, gopls and goimports are pinned in tools/go.mod and installed into ./.bin.

SHELL      := /bin/bash
BIN        := $(CURDIR)/.bin
JUPYTER    := /usr/bin/jupyter
APT_PKGS   := jupyter-notebook jupyter-nbconvert python3-nbclient python3-ipykernel python3-numpy python3-sklearn
SUDO       := $(if $(filter 0,$(shell id -u)),,sudo)
KERNEL_DIR := $(or $(JUPYTER_DATA_DIR),$(HOME)/.local/share/jupyter)/kernels/gonb
GOTAGS     ?= noxla
BENCH      ?=
PORT       ?= 8888
IP         ?= 127.0.0.1

# GoNB runs go, gopls and goimports from PATH; notebooks find this checkout through PROBINV_ROOT.
export PATH         := $(BIN):$(shell go env GOROOT)/bin:$(shell go env GOPATH)/bin:$(PATH)
export PROBINV_ROOT := $(CURDIR)

.PHONY: deps apt tools kernel notebook test bench

deps: apt tools kernel

apt:
	@missing=$$(for p in $(APT_PKGS); do \
	  [ "$$(dpkg-query -W -f='$${db:Status-Status}' $$p 2>/dev/null)" = installed ] || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "apt: installing" $$missing; \
	  $(SUDO) apt-get update && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $$missing; \
	fi

TOOLS := $(BIN)/gonb $(BIN)/gopls $(BIN)/goimports
tools: $(TOOLS)
$(TOOLS) &: tools/go.mod tools/go.sum
	cd tools && GOWORK=off GOBIN=$(BIN) go install tool
	@touch $(TOOLS)

# The kernel spec runs a copy of gonb kept next to it: (re)install unless that copy is ours.
kernel: tools
	@[ -f $(KERNEL_DIR)/kernel.json ] && cmp -s $(BIN)/gonb $(KERNEL_DIR)/gonb || $(BIN)/gonb --install --force_copy

notebook: deps
	$(JUPYTER) notebook --notebook-dir=notebooks --ip=$(IP) --port=$(PORT) --no-browser \
	  $(if $(SUDO),,--allow-root)

# Under -tags noxla only the pure-Go backend exists, so a GOMLX_BACKEND from the caller is dropped.
# PROBINV_REQUIRE_NOTEBOOKS makes tests/ fail, not skip, when Jupyter or GoNB is missing.
test: deps
	go vet -tags $(GOTAGS) ./...
	env -u GOMLX_BACKEND PROBINV_REQUIRE_NOTEBOOKS=1 go test -tags $(GOTAGS) -timeout 30m ./...

# GOMLX_BACKEND is honoured here: `make bench GOTAGS= GOMLX_BACKEND=xla:cuda` on a GPU machine.
bench:
	go run -tags '$(GOTAGS)' ./cmd/sbikit bench --run '$(BENCH)'
