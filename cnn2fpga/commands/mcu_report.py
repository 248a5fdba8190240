"""Memory and speed of the C inference library (mcu/) for a model.

Exports the model's weights header into build/<model>/mcu/, then prints:
  flash   every const array of the network (weights, biases, multipliers, shifts, pixel
          table) from the header, and the code size of mcu/cnn2fpga.c (gcc -Os, host x86-64,
          `size` text; a Cortex-M or Xtensa build differs)
  RAM     the two scratch buffers c2f_run ping-pongs between (the largest activation twice)
  speed   host instructions per inference, counted by callgrind (valgrind) on the -O2 build:
          (instructions for 1 + K images - instructions for 1 image) / K, so start-up and
          file I/O cancel; repeatable to the instruction.

Examples:
  cnn2fpga mcu-report --model mnist_cnn
  cnn2fpga mcu-report --model digits_cnn --json
"""
import argparse
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

from cnn2fpga.commands._cli import add_model_args, resolve_model, run


def callgrind_instructions(exe: Path, images_file: Path, work: Path) -> int:
    out = work / "callgrind.out"
    proc = subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
                           str(exe), str(images_file), str(work / "logits.i8")],
                          capture_output=True, text=True)
    if proc.returncode:
        raise RuntimeError(f"valgrind failed:\n{proc.stderr[-2000:]}")
    match = re.search(r"^summary:\s+(\d+)", out.read_text(), re.M)
    if match is None:
        raise RuntimeError(f"no summary line in {out}")
    return int(match.group(1))


def main() -> int:
    import numpy as np

    from model import c_export, export

    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    add_model_args(ap)
    ap.add_argument("--images", type=int, default=10, help="K: images to count (default 10)")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args()
    if args.images < 1:
        raise ValueError(f"--images {args.images} must be at least 1")
    for tool in ("gcc", "size", "valgrind"):
        if shutil.which(tool) is None:
            raise FileNotFoundError(f"{tool} is not installed (make setup installs it)")
    src = resolve_model(args, hardware=False)
    net = src.load_net(hardware=False)
    if src.input_max is None:
        raise ValueError(f"{src.name}: the pixel scaling is unknown (no matching dataset)")
    work = Path("build") / src.name / "mcu"
    export.export(net, src.tflite.read_bytes(), work, input_max=src.input_max,
                  input_offset=src.input_offset)
    mem = c_export.memory(net)
    obj = work / "cnn2fpga.o"
    subprocess.run(["gcc", *c_export.CFLAGS, "-Os", "-c", f"-I{c_export.MCU}",
                    str(c_export.MCU / "cnn2fpga.c"), "-o", str(obj)], check=True)
    text = int(subprocess.run(["size", str(obj)], capture_output=True, text=True,
                              check=True).stdout.splitlines()[1].split()[0])
    exe = c_export.compile_host(work, src.name, work / "c2f_host")
    images = np.asarray(src.load_data(args.mnist_dir).test.x[: 1 + args.images], np.uint8)
    (work / "one.u8").write_bytes(images[:1].tobytes())
    (work / "many.u8").write_bytes(images.tobytes())
    print(f"{src.name}: counting instructions with callgrind (1 and {1 + args.images} images)"
          " ...", file=sys.stderr, flush=True)
    one = callgrind_instructions(exe, work / "one.u8", work)
    many = callgrind_instructions(exe, work / "many.u8", work)
    per = (many - one) / args.images
    report = {"model": src.name, "macs": net.macs, "flash_const_bytes": mem["flash_arrays"],
              "code_bytes_host_Os": text, "ram_buffer_bytes": mem["ram_buffers"],
              "buffer_bytes_each": mem["buffer_bytes"], "instructions_per_inference": int(per),
              "instructions_per_mac": round(per / net.macs, 2)}
    if args.json:
        print(json.dumps(report))
        return 0
    print(f"  flash   {mem['flash_arrays']:,} bytes of const arrays + {text:,} bytes of code "
          f"(host gcc -Os)")
    print(f"  RAM     {mem['ram_buffers']:,} bytes: two scratch buffers of "
          f"{mem['buffer_bytes']:,} (the largest activation), plus the caller's logits")
    print(f"  speed   {per:,.0f} host instructions per inference (callgrind, gcc -O2), "
          f"{per / net.macs:.2f} per MAC ({net.macs:,} MACs)")
    return 0


if __name__ == "__main__":
    run(main)
