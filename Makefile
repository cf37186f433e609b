# newt build. `make` builds the release binary, `make asan` the sanitizer build,
# `make check` runs every test (release + sanitizers + fuzz), `make demo` the main job.
# Sources are found by wildcard: a new file in src/<room>/ or tests/unit/ needs no edit here.

CC       ?= gcc
BUILD    ?= build/release
NATIVE   ?= 0
CSTD     := -std=c17 -D_GNU_SOURCE
WARN     := -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter
INCLUDES := -Isrc
# Link the OpenMP build of OpenBLAS by its own directory, so that whatever the system's
# libblas alternative points at, BLAS and newt's kernels share one OpenMP thread pool.
MULTIARCH := $(shell $(CC) -print-multiarch 2>/dev/null)
BLAS_DIR := /usr/lib/$(MULTIARCH)/openblas-openmp
LIBS     := -L$(BLAS_DIR) -Wl,-rpath,$(BLAS_DIR) -lopenblas -lyaml -lpcre2-8 -lm -lpthread

ifeq ($(origin CC),default)
CC := gcc
endif

OPT := -O2 -g
ifeq ($(NATIVE),1)
OPT += -march=native
endif
ifeq ($(SAN),1)
OPT := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all
BUILD := build/asan
endif

CFLAGS  += $(CSTD) $(WARN) $(OPT) -fopenmp $(INCLUDES) -MMD -MP
LDFLAGS += $(filter -fsanitize%,$(OPT)) -fopenmp

LIB_SRC  := $(sort $(shell find src -name '*.c' ! -path 'src/cli/*'))
CLI_SRC  := $(sort $(wildcard src/cli/*.c))
TEST_SRC := $(sort $(wildcard tests/unit/test_*.c))
FUZZ_SRC := $(sort $(wildcard tests/fuzz/fuzz_*.c))
BENCH_SRC := $(sort $(wildcard bench/*.c))

LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
CLI_OBJ  := $(CLI_SRC:%.c=$(BUILD)/obj/%.o)
TEST_BIN := $(TEST_SRC:tests/unit/%.c=$(BUILD)/tests/%)
FUZZ_BIN := $(FUZZ_SRC:tests/fuzz/%.c=$(BUILD)/fuzz/%)
BENCH_BIN := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)

.PHONY: all asan tests deps check demo clean docs fuzz bench

all: $(BUILD)/newt

asan:
	$(MAKE) SAN=1 all tests

tests: $(TEST_BIN) $(FUZZ_BIN)

# Micro-benchmarks (bench/*.c), built against the library; run them by hand.
bench: $(BENCH_BIN)

$(BUILD)/libnewt.a: $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/newt: $(CLI_OBJ) $(BUILD)/libnewt.a
	$(CC) $(LDFLAGS) -o $@ $(CLI_OBJ) $(BUILD)/libnewt.a $(LIBS)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libnewt.a tests/unit/test.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests/unit $(LDFLAGS) -o $@ $< $(BUILD)/libnewt.a $(LIBS)

$(BUILD)/fuzz/%: tests/fuzz/%.c $(BUILD)/libnewt.a tests/fuzz/fuzz.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libnewt.a $(LIBS)

$(BUILD)/bench/%: bench/%.c $(BUILD)/libnewt.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests/unit $(LDFLAGS) -o $@ $< $(BUILD)/libnewt.a $(LIBS)

# Installs missing build/test dependencies (apt as root) or prints the apt-get line.
deps:
	@scripts/deps.sh

# The test command of the README: release tests, sanitizer tests, fuzzing.
check: deps
	scripts/npm-deps.sh
	$(MAKE) all tests bench
	$(MAKE) SAN=1 all tests
	scripts/run-tests.sh

# The main job of the README.
# A real training run: the tiny model and tokenizer are made by newt itself (no download),
# then a full fine-tune on the bundled chat data with thinking traces (under a minute).
# Passive OpenMP waiting: on a busy machine spinning threads of this tiny model fight other
# processes for the cores (measured: 53 s spinning vs 1.4 s passive, same bytes out).
demo: deps all
	NEWT=$(BUILD)/newt scripts/make-tiny.sh build/tiny-model
	OMP_WAIT_POLICY=$${OMP_WAIT_POLICY:-passive} $(BUILD)/newt train examples/tiny/fft-text.yml

docs: all
	$(BUILD)/newt config-schema --markdown > docs/config.md

clean:
	rm -rf build

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d)
