"""Compare the numpy golden model with TFLite's reference kernels, tensor by tensor.

Runs N test images through LiteRT (OpResolverType.BUILTIN_REF, all tensors preserved) and
through the golden model, compares every layer's output tensor value by value, and reports
accuracy: the float Keras model, the float32 TFLite model (the converter's output without
quantization), the int8 model (LiteRT) and the golden model; and the LiteRT CPU time per image
(default optimized kernels, one image per invoke) of the float32 and the int8 .tflite.
Exit status 1 if any value differs.

Examples:
  cnn2fpga check --model mnist_cnn --n 10000 --json
  cnn2fpga check --model digits_cnn
  cnn2fpga check --model build/mine/mine.tflite --dataset mnist
  cnn2fpga check --model mine.keras --dataset data/my_idx_folder
"""
import argparse
import json
import sys
import time

from cnn2fpga.commands._cli import add_model_args, resolve_model, run


def check(src, mnist_dir=None, n=None, float_model=True, progress=True,
          announce=False) -> dict:
    """The report; ``progress`` draws bars (a terminal), ``announce`` says each step on stderr."""
    import numpy as np

    from model import golden, oracle

    net = src.load_net(hardware=False)
    say = (lambda text: print(text, file=sys.stderr, flush=True)) if announce else (lambda _: 0)
    data = src.load_data(mnist_dir)
    test = data.test.head(n)
    labelled = data.labelled

    def accuracy(pred):
        return float(np.mean(pred == test.y)) if labelled else None
    x_float = src.to_float(test.x)
    x = net.quantize_input(x_float)
    say(f"{src.name}: {len(test):,} images through LiteRT's reference kernels ...")
    t0 = time.time()
    out, inter = oracle.run(src.tflite, x, [layer.tensor for layer in net.layers],
                            progress=progress)
    t_oracle = time.time() - t0
    say(f"{src.name}: the golden model ...")
    t0 = time.time()
    result = golden.run_network(net, x, progress=progress)
    t_golden = time.time() - t0
    layers = []
    for layer, mine in zip(net.layers, result.tensors):
        ref = inter[layer.tensor]
        layers.append({"name": layer.name, "kind": layer.kind, "shape": list(layer.out_shape),
                       "values": int(ref.size), "mismatches": int(np.sum(ref != mine))})
    # the oracle's output is the logits (a final SOFTMAX is left out: oracle.without_softmax)
    layers[-1]["mismatches"] += int(np.sum(out != result.logits))
    report = {
        "model": src.name, "tflite": str(src.tflite), "images": len(test),
        "layers": layers, "mismatches": sum(layer["mismatches"] for layer in layers),
        "float_accuracy": None, "float_tflite_accuracy": None,
        "int8_accuracy": accuracy(np.argmax(out, axis=1)),
        "golden_accuracy": accuracy(result.prediction),
        "seconds": {"oracle": round(t_oracle, 2), "golden": round(t_golden, 2)},
    }
    times = {}
    if float_model and src.keras is not None and labelled:
        say(f"{src.name}: the float Keras model ...")
        report["float_accuracy"] = src.float_accuracy(test)
        say(f"{src.name}: the float32 TFLite model ...")
        times["float32"], fout = oracle.timed(src.float_tflite(), x_float, progress=progress)
        report["float_tflite_accuracy"] = float(np.mean(np.argmax(fout, axis=1) == test.y))
    used = {}
    times["int8"], _ = oracle.timed(src.tflite, x, progress=progress, used=used)
    report["litert_ms_per_image"] = {k: round(v * 1e3, 4) for k, v in times.items()}
    report["litert_int8_kernels"] = used["kernels"]
    if used["kernels"] != "default":
        say(f"{src.name}: LiteRT's default kernels (XNNPACK) refused the int8 model "
            f"({used['why']}); its time is the reference kernels'")
    return report


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    add_model_args(ap)
    ap.add_argument("--n", type=int, help="number of test images (default: the whole test set)")
    ap.add_argument("--no-float", action="store_true",
                    help="skip the float models (Keras and float32 TFLite)")
    ap.add_argument("--json", action="store_true", help="print the report as JSON only")
    args = ap.parse_args()
    if args.n is not None and args.n < 1:
        raise ValueError(f"--n {args.n} must be at least 1")
    src = resolve_model(args, hardware=False)
    report = check(src, args.mnist_dir, args.n, float_model=not args.no_float,
                   progress=not args.json and sys.stderr.isatty(), announce=not args.json)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"{report['model']}: {report['images']} images, {len(report['layers'])} layers")
        for layer in report["layers"]:
            print(f"  {layer['name']:<8} {layer['kind']:<10} {str(layer['shape']):<14} "
                  f"{layer['mismatches']} of {layer['values']} values differ")
        pct = lambda v: "n/a" if v is None else f"{100 * v:.2f}%"  # noqa: E731
        print(f"mismatches {report['mismatches']}")
        ms = report["litert_ms_per_image"]
        kernels = "" if report["litert_int8_kernels"] == "default" else \
            " (int8: reference kernels, the default ones refused it)"
        print(f"  model                 accuracy  LiteRT CPU ms/image (1 thread){kernels}")
        for label, acc, key in (("float (Keras)", report["float_accuracy"], None),
                                ("float32 TFLite", report["float_tflite_accuracy"], "float32"),
                                ("int8 TFLite (LiteRT)", report["int8_accuracy"], "int8"),
                                ("int8 golden (numpy)", report["golden_accuracy"], None)):
            t = f"{ms[key]:.3f}" if key in ms else "-"
            print(f"  {label:<21} {pct(acc):>8}  {t}")
    return 1 if report["mismatches"] else 0


if __name__ == "__main__":
    run(main)
