# PEFTKit — `make demo` runs the main job on the embedded data, `make test` runs the tests.
# Both install what they need first (Debian packages, model packages from PyPI).

SWIFT        ?= swift
RELEASE      := -c release
TEST_FLAGS   := -c release -Xswiftc -enable-testing
# Pick the fast OpenBLAS kernel on CPUs that Debian's OpenBLAS does not recognise
# (must be in the environment before the library loads).
CORETYPE     := $(shell scripts/openblas-coretype.sh)
ifneq ($(CORETYPE),)
export OPENBLAS_CORETYPE := $(CORETYPE)
endif
export PEFTKIT_MODELS ?= $(CURDIR)/models

.PHONY: deps models build demo demo-avsr demo-faces demo-change demo-dapt demo-core demo-deepfake test bench clean

deps:
	@scripts/install-deps.sh

models:
	@scripts/install-models.sh

build: deps
	$(SWIFT) build $(RELEASE)

# The main jobs on the embedded data in data/ (each prints its held-out results on stdout).
demo: deps models build
	$(SWIFT) run $(RELEASE) ner-tune train --out runs/ner-demo
	$(SWIFT) run $(RELEASE) ner-tune predict --adapter runs/ner-demo --input data/text/test.conll --output runs/ner-demo/test.pred.conll
	$(SWIFT) run $(RELEASE) kg-query demo
	$(SWIFT) run $(RELEASE) audio-adapt demo
	$(SWIFT) run $(RELEASE) vision-adapt demo
	$(SWIFT) run $(RELEASE) gec-cl compare --methods seq-lora,replay,ogd --order animals,food,places --max-train 96 --epochs 10 --out runs/gec-demo
	$(SWIFT) run $(RELEASE) crosstune compare --seeds 2 --methods crosstune,linear-probe,prototype,zero-shot --out runs/crosstune-demo
	$(SWIFT) run $(RELEASE) change-detect demo
	$(SWIFT) run $(RELEASE) avsr-tune demo --short

# Whisper on real telephone prompts (zero-shot, babble at 0 dB), Omni-AVSR adaptation, and the
# synthetic audio-visual set (ASR / VSR / AVSR at several compression rates).
demo-avsr: deps models build
	$(SWIFT) run $(RELEASE) avsr-tune demo

# PETALface on ORL (frozen SFace vs PETALface, open-set split; a short CPU schedule).
demo-faces: deps models build
	$(SWIFT) run $(RELEASE) face-adapt demo

# PeftCD change detection on synthetic change pairs (LoRA / adapter / frozen, 150 steps at 112 px, ~4 CPU-min;
# also part of `make demo`): held-out IoU ~0.85 against the pixel-difference baseline's 0.73 it prints.
demo-change: deps models build
	$(SWIFT) run $(RELEASE) change-detect demo

# OpenMed's full recipe: LoRA domain-adaptive pre-training on unlabelled WordNet glosses (disjoint from
# the NER data), then NER with and without it at the same seed and budget.
demo-dapt: deps models build
	$(SWIFT) run $(RELEASE) ner-tune dapt --text data/text/dapt.txt --out runs/dapt-minilm --head-warmup 40 --max-steps 40 --max-len 64 --lr 1e-3 --seed 42
	$(SWIFT) run $(RELEASE) ner-tune train --out runs/ner-base --epochs 1 --seed 42
	$(SWIFT) run $(RELEASE) ner-tune train --model runs/dapt-minilm --out runs/ner-dapt --epochs 1 --seed 42

# GenD on synthetic face manipulations of ORL: train on swap+sbi, AUROC per family on held-out identities
# for GenD and its ablations (a short CPU schedule, stated in the output).
demo-deepfake: deps models build
	$(SWIFT) run $(RELEASE) deepfake-detect demo --train-identities 24 --per-identity 10 --iterations 450 --lr 3e-3 --seed 1 --out runs/deepfake-study

# The Core engine alone: a small transformer trained from scratch on a synthetic task.
demo-core: deps build
	$(SWIFT) run $(RELEASE) peftkit-demo toy

# The output is also kept in .build/test.log; on failure a summary (failed tests, the crashed
# thread's frames) is printed last, since CI shows only the tail.
test: deps models
	$(SWIFT) build $(TEST_FLAGS) --build-tests
	@mkdir -p .build
	bash -c 'set -o pipefail; $(SWIFT) test $(TEST_FLAGS) --skip-build 2>&1 | tee .build/test.log' \
		|| { scripts/test-summary.sh .build/test.log; exit 1; }

bench: deps models build
	$(SWIFT) run $(RELEASE) peftkit-bench core

clean:
	rm -rf .build

# Reliability (issue 14). `make fuzz` runs every libFuzzer target FUZZ_SECONDS seconds (one
# target: FUZZ_TARGETS=png); see FUZZING.md. test-asan runs the test suite under
# AddressSanitizer (FILTER=regex for part of it), test-tsan the multi-threaded kernels under
# ThreadSanitizer. Each sanitizer has its own build folder, so the normal build stays as it is.
.PHONY: fuzz test-asan test-tsan
FUZZ_SECONDS ?= 30
FUZZ_TARGETS ?=
# Every suite that reaches a parallelChunks loop, a ThreadGroup or the HTTP server (grep -l in Sources):
# kernels (incl. convolution, batch norm, upsampling), audio features/resampling/clip loading,
# spoken-word synthesis, image decoding for few-shot and vision-adapt, distributed training, and the
# blocked attention kernel (workers each calling sgemm with OpenBLAS on one thread).
TSAN_FILTER  ?= KernelTests|BertKernelTests|FeatureTests|ResamplerTests|AttentionKernel|BlockedAttention|BLASThreadCount|LayerTests|ParallelismTests|TrainDistributedTests|CrossTuneHTTPParserTests|CrossTuneServerTests|FuzzRegression|AtomicFileCleanup|ConvolutionTests|BatchNorm|ChangeDetectionMetricsTests|SpokenWordsTests|AudioTaskTests|ImageFolderTests|VisionAdaptTests|TrainCheckpointTests
# The build folders (ASAN_BUILD=.build reuses a snapshot's own build). The options are exported to
# the test process and so to every app AppsTests start (they run the apps beside the test binary,
# i.e. the ASan-built ones), with an absolute suppressions path; what is suppressed and why: FUZZING.md.
ASAN_BUILD   ?= .build/asan
TSAN_BUILD   ?= .build/tsan
SAN_ENV      := ASAN_OPTIONS=detect_leaks=1 LSAN_OPTIONS=suppressions=$(CURDIR)/Tests/Fuzz/lsan.supp:print_suppressions=0 SWIFT_BACKTRACE=enable=no

fuzz: deps
	FUZZ_SECONDS=$(FUZZ_SECONDS) scripts/fuzz.sh run $(FUZZ_TARGETS)

test-asan: deps models
	$(SWIFT) build $(TEST_FLAGS) --build-tests --build-path $(ASAN_BUILD) --sanitize=address
	$(SAN_ENV) $(SWIFT) test $(TEST_FLAGS) --skip-build --build-path $(ASAN_BUILD) --sanitize=address $(if $(FILTER),--filter '$(FILTER)')

test-tsan: deps models
	$(SWIFT) build $(TEST_FLAGS) --build-tests --build-path $(TSAN_BUILD) --sanitize=thread
	$(SAN_ENV) TSAN_OPTIONS=halt_on_error=1 $(SWIFT) test $(TEST_FLAGS) --skip-build --build-path $(TSAN_BUILD) --sanitize=thread --filter '$(TSAN_FILTER)'
