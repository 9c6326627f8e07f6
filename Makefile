# Postagram: `make run` starts the API on the embedded store, `make test` runs every test.
SHELL := bash
# Reuse a build cache outside the clone when there is one (CI and developer machines).
CACHE_TARGET := $(HOME)/.cache/postagram/target
ifeq ($(origin CARGO_TARGET_DIR), undefined)
ifneq ($(wildcard $(CACHE_TARGET)),)
export CARGO_TARGET_DIR := $(CACHE_TARGET)
endif
endif
MODEL := models/efficientnet-lite0.safetensors

.PHONY: run test bench fmt lint model photos images lambda-zip help

help:
	@echo "make run    - build and start the API (embedded SQLite + picture folder + local labeler) on :8080"
	@echo "make test   - every test (fetches pinned model, photos and Python tools first)"
	@echo "make bench  - benchmarks; numbers go to BENCHMARKS.md"
	@echo "make fmt    - format the code"
	@echo "make lint   - rustfmt check and clippy with warnings as errors"
	@echo "make model  - fetch and convert the EfficientNet-Lite0 weights into $(MODEL)"
	@echo "make images - build the API, labeler and operator images (docker or podman) with the chart's default tags"
	@echo "make lambda-zip - the labeller as an AWS Lambda package (provided.al2023 bootstrap + model) in target/lambda/"

$(MODEL):
	scripts/fetch-model.sh

model:
	scripts/fetch-model.sh

photos:
	scripts/fetch-test-photos.sh

images:
	scripts/build-images.sh

run: $(MODEL)
	cargo run --release -p postagram-api

test:
	scripts/test.sh

lambda-zip:
	scripts/package-lambda.sh

bench:
	bench/run.sh

fmt:
	cargo fmt --all

lint:
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings
	cargo clippy -p postagram-core -p postagram-api -p postagram-labeler -p postagram-testkit --all-targets \
		--features postagram-core/aws,postagram-api/aws,postagram-labeler/lambda -- -D warnings
