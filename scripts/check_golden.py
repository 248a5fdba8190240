#!/usr/bin/env python3
"""Compare the numpy golden model with TFLite's reference kernels, tensor by tensor.

Runs N test images through LiteRT (OpResolverType.BUILTIN_REF, all tensors preserved) and
through the golden model, compares every layer's output tensor value by value, and reports
float (Keras), int8 (LiteRT) and golden accuracy. Exit status 1 if any value differs.

Examples:
  python scripts/check_golden.py --model mnist_cnn --n 10000 --json
  python scripts/check_golden.py --model digits_cnn
  python scripts/check_golden.py --model build/mine/mine.tflite --dataset mnist
"""
import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from scripts._cli import run  # noqa: E402


def check(src, mnist_dir=None, n=None, float_model=True, progress=True) -> dict:
    import numpy as np

    from model import golden, oracle

    net = src.load_net()
    test = src.load_data(mnist_dir).test.head(n)
    x_float = src.to_float(test.x)
    x = net.quantize_input(x_float)
    t0 = time.time()
    out, inter = oracle.run(src.tflite, x, [layer.tensor for layer in net.layers],
                            progress=progress)
    t_oracle = time.time() - t0
    t0 = time.time()
    result = golden.run_network(net, x, progress=progress)
    t_golden = time.time() - t0
    layers = []
    for layer, mine in zip(net.layers, result.tensors):
        ref = inter[layer.tensor]
        layers.append({"name": layer.name, "kind": layer.kind, "shape": list(layer.out_shape),
                       "values": int(ref.size), "mismatches": int(np.sum(ref != mine))})
    if not net.softmax:  # the model's output is the logits tensor itself
        layers[-1]["mismatches"] += int(np.sum(out != result.logits))
    report = {
        "model": src.name, "tflite": str(src.tflite), "images": len(test),
        "layers": layers, "mismatches": sum(layer["mismatches"] for layer in layers),
        "float_accuracy": None,
        "int8_accuracy": float(np.mean(np.argmax(out, axis=1) == test.y)),
        "golden_accuracy": float(np.mean(result.prediction == test.y)),
        "seconds": {"oracle": round(t_oracle, 2), "golden": round(t_golden, 2)},
    }
    if float_model:
        report["float_accuracy"] = src.float_accuracy(test)
    return report


def main() -> int:
    from model import source

    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True,
                    help="preset (mnist_cnn, digits_cnn) or a .tflite/.keras file")
    ap.add_argument("--n", type=int, help="number of test images (default: the whole test set)")
    ap.add_argument("--dataset", choices=sorted(source.DATASETS),
                    help="dataset for a model file (default: inferred from its input shape)")
    ap.add_argument("--mnist-dir", help="folder with the MNIST IDX files (default $MNIST_DIR, "
                                        "else the Keras download)")
    ap.add_argument("--no-float", action="store_true", help="skip the Keras float accuracy")
    ap.add_argument("--json", action="store_true", help="print the report as JSON only")
    args = ap.parse_args()
    if args.n is not None and args.n < 1:
        raise ValueError(f"--n {args.n} must be at least 1")
    src = source.resolve(args.model, dataset=args.dataset, mnist_dir=args.mnist_dir)
    report = check(src, args.mnist_dir, args.n, float_model=not args.no_float,
                   progress=sys.stderr.isatty())
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"{report['model']}: {report['images']} images, {len(report['layers'])} layers")
        for layer in report["layers"]:
            print(f"  {layer['name']:<8} {layer['kind']:<10} {str(layer['shape']):<14} "
                  f"{layer['mismatches']} of {layer['values']} values differ")
        pct = lambda v: "n/a" if v is None else f"{100 * v:.2f}%"  # noqa: E731
        print(f"mismatches {report['mismatches']}  float {pct(report['float_accuracy'])}  "
              f"int8 {pct(report['int8_accuracy'])}  golden {pct(report['golden_accuracy'])}")
    return 1 if report["mismatches"] else 0


if __name__ == "__main__":
    run(main)
