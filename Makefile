# ustcp - top-level entry points (CMake underneath). Keep these stable:
#   make          build everything into build/
#   make test     install missing Debian packages, build (plain and ASan+UBSan),
#                 run every test through CTest, then the fuzzers briefly
#   make lab      run every seed scenario, write build/lab/<name>.{txt,pcap,svg}
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_FLAGS ?=
PREFIX ?= /usr/local

.PHONY: all build test test-plain test-asan test-fuzz lab fuzz install format format-check clean deps

all: build

build:
	@cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS) >/dev/null
	@cmake --build build -j $(JOBS)

deps:
	@bash scripts/deps.sh

test: deps
	@$(MAKE) --no-print-directory test-plain
	@$(MAKE) --no-print-directory test-asan
	@$(MAKE) --no-print-directory test-fuzz

test-plain: build
	ctest --test-dir build -j $(JOBS) --output-on-failure

test-asan:
	@cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DUSTCP_SANITIZE=ON >/dev/null
	@cmake --build build-asan -j $(JOBS)
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  ctest --test-dir build-asan -j $(JOBS) --output-on-failure -LE 'slow|interop'

fuzz:
	@CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DUSTCP_FUZZ=ON >/dev/null
	@cmake --build build-fuzz -j $(JOBS) --target fuzzers

test-fuzz: fuzz
	ctest --test-dir build-fuzz -j $(JOBS) --output-on-failure -L fuzz

# Each scenario's timeline (also in build/lab/NAME.txt, beside .pcap and .svg),
# then one summary line per scenario; fails if any scenario did not show its
# behaviour.
lab: build
	@mkdir -p build/lab
	@rc=0; ./build/ustcp lab run all --out build/lab > build/lab/summary.txt || rc=$$?; \
	for n in $$(./build/ustcp lab list | awk '{print $$1}'); do \
	  [ -f build/lab/$$n.txt ] && cat build/lab/$$n.txt && echo; done; \
	cat build/lab/summary.txt; exit $$rc

install: build
	cmake --install build --prefix $(PREFIX)

format:
	@git ls-files '*.c' '*.h' | xargs clang-format -i

format-check:
	@bash scripts/format-check.sh

clean:
	rm -rf build build-asan build-fuzz
