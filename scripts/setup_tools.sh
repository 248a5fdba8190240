#!/usr/bin/env bash
# Install the simulators and compilers the project runs (Debian packages), when any is missing.
# As root this calls apt-get; otherwise it says what to install and fails. The FPGA flow
# (Yosys, nextpnr, icepack, ecppack) comes from PyPI, pinned in pyproject.toml.
set -euo pipefail
need=()
for pair in iverilog:iverilog verilator:verilator openFPGALoader:openfpgaloader; do
  cmd=${pair%%:*} pkg=${pair##*:}
  command -v "$cmd" >/dev/null 2>&1 || need+=("$pkg")
done
# iverilog-vpi (to build myhdl.vpi) ships with iverilog; gcc/make are needed to build it.
command -v iverilog-vpi >/dev/null 2>&1 || need+=(iverilog)
command -v make >/dev/null 2>&1 || need+=(make)
command -v gcc >/dev/null 2>&1 || need+=(gcc)
# the C inference library (mcu/): gcc builds and sanitizes it, g++ the example sketch,
# valgrind (callgrind) counts its instructions per inference
command -v g++ >/dev/null 2>&1 || need+=(g++)
command -v valgrind >/dev/null 2>&1 || need+=(valgrind)
# ccache: every Verilator build compiles the same runtime files; cached, a build takes seconds less
command -v ccache >/dev/null 2>&1 || need+=(ccache)
if [ ${#need[@]} -eq 0 ]; then
  echo "setup: simulators present: $(iverilog -V 2>/dev/null | head -1 | cut -d' ' -f1-4);" \
       "$(verilator --version | cut -d' ' -f1-2)"
  exit 0
fi
mapfile -t need < <(printf '%s\n' "${need[@]}" | sort -u)
if [ "$(id -u)" -ne 0 ]; then
  echo "setup: missing Debian packages: ${need[*]}" >&2
  echo "setup: run as root, or: sudo apt-get install -y ${need[*]}" >&2
  exit 1
fi
echo "setup: installing ${need[*]} with apt-get"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
