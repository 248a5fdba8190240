# cnn2fpga: Keras CNN -> TFLite int8 -> bit-exact golden model -> MyHDL/Verilog.
# `make setup` then `make test` on a fresh machine; `make help` lists the rest.

PYTHON_SYS ?= python3.11
VENV       := .venv
PY         := $(VENV)/bin/python
MODEL      ?= mnist_cnn
N          ?=
FINETUNE   ?=
BUILD      := build
VPI_SRC     = $(VENV)/share/myhdl/cosimulation/icarus
# Tests and CI point MNIST_DIR at the shared IDX files; without it the Keras download is used.
export MNIST_DIR

.PHONY: help setup tools venv vpi test test-slow train export check verilog synth bitstream cosim bench clean

help:
	@echo "make setup              install HDL tools (apt-get), .venv with the project, build/myhdl.vpi"
	@echo "make test               the default test suite (pytest, 375 tests, 6 minutes on 2 cores)"
	@echo "make test-slow          the long runs: full test sets, training"
	@echo "make train MODEL=...    train a preset (mnist_cnn, digits_cnn) into build/MODEL/train"
	@echo "make train MODEL=... FINETUNE=data/camera/  fine-tune the pretrained model on camera"
	@echo "                        recordings (scripts/capture_dataset.py) -> build/MODEL/finetune"
	@echo "make check MODEL=... [N=...]  golden model vs TFLite reference kernels, every tensor"
	@echo "make export MODEL=...   ROM .mem files, network.json, C header into build/MODEL/export"
	@echo "make verilog MODEL=...  the whole accelerator as Verilog + .mem into build/MODEL/verilog"
	@echo "make verilog BOARD=...  a board top (de10lite, basys3, icebreaker): OV7670 camera -> CNN ->"
	@echo "                        7-segment/LEDs + UART, with its constraints, into build/BOARD/verilog"
	@echo "make synth BOARD=icebreaker  the board top through Yosys and nextpnr-ice40 with its .pcf"
	@echo "make synth MODEL=... [TARGET=xilinx|ice40]  Yosys on the whole accelerator, resources vs the device"
	@echo "                        (ice40: also nextpnr-ice40 place and route and the fmax)"
	@echo "make bitstream [MODEL=digits_cnn]  iCE40 UP5K: Yosys, nextpnr-ice40, icepack -> .bin"
	@echo "make bitstream BOARD=icebreaker  the iCEBreaker camera top -> build/icebreaker/synth/*.bin"
	@echo "make bench              every figure (accuracy, cycles, resources, fmax, CPU) -> build/bench.json"
	@echo "make cosim MODEL=... [N=...] [SIM=cosim|icarus|verilator]  real images through the Verilog"

setup: tools venv vpi

tools:
	@scripts/setup_tools.sh

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@command -v $(PYTHON_SYS) >/dev/null || { echo "setup: $(PYTHON_SYS) not found" >&2; exit 1; }
	@test -x $(PY) || $(PYTHON_SYS) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	@touch $@

vpi: $(BUILD)/myhdl.vpi

# MyHDL ships the Icarus VPI module as source; build it out of tree so .venv stays pristine.
$(BUILD)/myhdl.vpi: $(VENV)/.installed
	@rm -rf $(BUILD)/vpi-src && mkdir -p $(BUILD)/vpi-src
	cp $(VPI_SRC)/*.c $(VPI_SRC)/Makefile $(BUILD)/vpi-src/
	$(MAKE) -s -C $(BUILD)/vpi-src >/dev/null
	cp $(BUILD)/vpi-src/myhdl.vpi $@

test: venv
	$(PY) -m pytest -n 2 --dist loadgroup -q

test-slow: venv
	$(PY) -m pytest -q -m slow

train: venv
	$(PY) scripts/train.py --model $(MODEL) $(if $(FINETUNE),--finetune $(FINETUNE))

check: venv
	$(PY) scripts/check_golden.py --model $(MODEL) $(if $(N),--n $(N))

export: venv
	$(PY) scripts/export_weights.py --model $(MODEL)

# with BOARD the board's own model is the default; MODEL=... on the command line overrides it
BOARD_MODEL = $(if $(filter command line environment,$(origin MODEL)),--model $(MODEL))
verilog: venv
	$(if $(BOARD),$(PY) scripts/make_verilog.py --board $(BOARD) $(BOARD_MODEL),$(PY) scripts/make_verilog.py --model $(MODEL))

TARGET ?= xilinx
synth: venv
	$(if $(BOARD),$(PY) scripts/synth.py --board $(BOARD) $(BOARD_MODEL),$(PY) scripts/synth.py --model $(MODEL) --target $(TARGET))

BITSTREAM_MODEL = $(if $(filter command line environment,$(origin MODEL)),$(MODEL),digits_cnn)
bitstream: venv
	$(if $(BOARD),$(PY) scripts/synth.py --board $(BOARD) $(BOARD_MODEL) --bitstream,$(PY) scripts/synth.py --model $(BITSTREAM_MODEL) --target ice40 --bitstream)

bench: venv
	$(PY) scripts/bench.py $(BENCH_ARGS)

SIM ?= cosim
cosim: venv
	$(PY) scripts/cosim.py --model $(MODEL) --sim $(SIM) $(if $(N),--n $(N))

clean:
	rm -rf $(BUILD)
