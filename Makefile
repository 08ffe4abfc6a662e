# The two commands of the README: `make run` and `make test`. Everything else is for developers.
BUILD      ?= build
JOBS       ?= $(shell nproc)
DATA       ?= ./data
HTTP       ?= 127.0.0.1:9640
CMAKE_ARGS ?=
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?=

.PHONY: all deps build run test bench bench-quick bench-cluster drill format lint asan fuzz clean

all: build

deps:
	@bash scripts/install-deps.sh

$(BUILD)/build.ninja:
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release -DSAWMILL_WERROR=ON $(CMAKE_ARGS)

build: deps $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS)

run: build
	@echo "Starting the Sawmill server on http://$(HTTP)/ (data in $(DATA)); what to try comes once it is ready."
	@exec ./$(BUILD)/sawmill server --data $(DATA) --http $(HTTP) --welcome ./$(BUILD)/sawmill

test: build
	@bash scripts/test-setup.sh
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) --timeout 900

bench: build
	@bash bench/run.sh

bench-quick: build
	@BENCH_LINES=1000000 bash bench/run.sh

# Cluster nodes (docs/cluster.md) on this machine: 1, 2 and 3 nodes on one PostgreSQL and one S3
# API (Swift), ingest per core, ack latency, store and catalog load, queries (docs/capacity.md).
bench-cluster: build
	@bash bench/cluster_bench.sh

# The incident drill (docs/operations.md): about 6 minutes; DRILL_MODE=quick for about 3,
# DRILL_ARGS="--json out.json --keep" etc. Needs root (mounts a small file system).
DRILL_MODE ?= full
DRILL_ARGS ?=
drill: build
	python3 tests/drill/drill.py --sawmill $(BUILD)/sawmill --mode $(DRILL_MODE) $(DRILL_ARGS)

format:
	@git ls-files '*.cc' '*.h' | xargs clang-format -i

# Lint: formatting, clang-tidy, and clang's -Wthread-safety over every library (compiled, not
# linked, in build-lint/; a locking annotation violated is an error). docs/development.md.
lint: $(BUILD)/build.ninja build-lint/build.ninja
	@git ls-files '*.cc' '*.h' | xargs clang-format --dry-run -Werror
	cmake --build build-lint -j $(JOBS) --target sawmill_libraries
	@git ls-files 'src/*.cc' | grep -v '_test.cc$$' | xargs -P $(JOBS) -n 8 clang-tidy -p build-lint --quiet

build-lint/build.ninja:
	cmake -S . -B build-lint -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_COMPILER=clang++ \
	  -DSAWMILL_WERROR=ON -DSAWMILL_ALLOCATOR=system $(CMAKE_ARGS)

asan: deps
	cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DSAWMILL_SANITIZE=ON $(CMAKE_ARGS)
	cmake --build build-asan -j $(JOBS)
	cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 ctest --output-on-failure -j $(JOBS) -E '(e2e|interop|ui_)'

# libFuzzer targets (fuzz/) with clang, ASan and UBSan in build-fuzz/; each runs FUZZ_SECONDS
# (`make fuzz FUZZ_SECONDS=600`, `make fuzz FUZZ_TARGETS="syslog wal_reader"`). docs/development.md.
fuzz: deps
	cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
	  -DSAWMILL_FUZZ=ON -DSAWMILL_WERROR=OFF $(CMAKE_ARGS)
	cmake --build build-fuzz -j $(JOBS) --target fuzz_all
	FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_TARGETS="$(FUZZ_TARGETS)" bash scripts/fuzz.sh

clean:
	rm -rf $(BUILD) build-asan build-fuzz build-lint
