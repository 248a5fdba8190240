"""Export a quantized model's ROM init files, network.json and C headers.

Writes into OUT: <layer>_{weights,bias,multiplier,shift}.mem ($readmemh hex, two's complement,
layout in model/export.py), network.json (layers, shapes, zero points, widths, files),
<model>_model.h (the .tflite as an aligned C array, for TFLite Micro), <model>_weights.h (the
whole network for the dependency-free C library in mcu/, see docs/mcu.md) and
<model>_samples.h (--samples test images with labels, for the example sketch). Files are
generated in a staging folder and moved into OUT only when all of them are complete.

Examples:
  cnn2fpga export --model mnist_cnn --out build/mnist_cnn
  cnn2fpga export --model path/to/model.tflite --out build/mine
"""
import argparse
from pathlib import Path

from cnn2fpga.commands._cli import add_model_args, resolve_model, run


def main() -> int:
    from model import export

    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    add_model_args(ap)
    ap.add_argument("--out", type=Path, help="output folder (default build/<model>/export)")
    ap.add_argument("--images", type=int, default=0, metavar="N",
                    help="also write N test images as images.u8 (and labels.u8): the input of "
                         "the C host runner mcu/host/c2f_host.c (see docs/mcu.md)")
    ap.add_argument("--samples", type=int, default=4,
                    help="test images in <model>_samples.h (default 4; 0: no samples header)")
    args = ap.parse_args()
    if args.samples < 0:
        raise ValueError(f"--samples {args.samples} must be 0 or more")
    if args.images < 0:
        raise ValueError(f"--images {args.images} must be 0 or more")
    src = resolve_model(args, hardware=False)
    net = src.load_net(hardware=False)
    out = args.out or Path("build") / src.name / "export"
    samples = raw = None
    if (args.samples and src.dataset is not None) or args.images:
        test = src.load_data(args.mnist_dir).test
        samples = (test.x[: args.samples], test.y[: args.samples]) if args.samples else None
        raw = (test.x[: args.images], test.y[: args.images]) if args.images else None
    written = export.export(net, src.tflite.read_bytes(), out, input_max=src.input_max,
                             input_offset=src.input_offset,
                            samples=samples, raw=raw)
    print(f"{src.name}: {len(net.layers)} layers, {net.parameters} parameters, "
          f"{net.macs} MACs per image")
    print(f"wrote {len(written)} files to {out}/")
    return 0


if __name__ == "__main__":
    run(main)
