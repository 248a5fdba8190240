"""Train a model preset, plot its curves and confusion matrix, convert it to int8 TFLite.

Writes OUT/<model>.keras, OUT/<model>.tflite, OUT/training.png, OUT/confusion.png and
OUT/metrics.json (float and int8 test accuracy). The folder appears whole or not at all.
With --promote the new .keras/.tflite replace the committed pretrained ones in model/pretrained/.

With --finetune DIR the pretrained model is fine-tuned instead: on the camera frames recorded
in DIR (scripts/capture_dataset.py) mixed with the preset's training images, then re-quantized.
The output (default build/<model>/finetune) has the same files; metrics.json adds the camera
accuracy before and after, on a held-out fifth of the recordings. The rest of the flow takes
the result as MODEL=build/<model>/finetune/<model>.tflite (make check, verilog, cosim, synth).
"""
import argparse
import json
import shutil
from pathlib import Path

from cnn2fpga.commands._cli import run


def main() -> int:
    from model import presets, train

    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, choices=sorted(presets.PRESETS),
                    help="preset to train")
    ap.add_argument("--out", type=Path, help="output folder (default build/<model>/train)")
    ap.add_argument("--mnist-dir", help="folder with the MNIST IDX files (default $MNIST_DIR, "
                                        "else the Keras download)")
    ap.add_argument("--epochs", type=int, help="override the preset's epoch count (fine-tuning: 3)")
    ap.add_argument("--finetune", type=Path, metavar="DIR",
                    help="fine-tune the pretrained model on the camera recordings in DIR")
    ap.add_argument("--seed", type=int, default=1337)
    ap.add_argument("--promote", action="store_true",
                    help="copy the result over model/pretrained/<model>.{keras,tflite,json} "
                         "and the PNGs")
    args = ap.parse_args()
    if args.epochs is not None and args.epochs < 1:
        raise ValueError(f"--epochs {args.epochs} must be at least 1")
    if args.finetune is not None:
        out = args.out or Path("build") / args.model / "finetune"
        metrics = train.finetune(args.model, out, args.finetune, mnist_dir=args.mnist_dir,
                                 epochs=args.epochs or 3, seed=args.seed)
    else:
        out = args.out or Path("build") / args.model / "train"
        metrics = train.train(args.model, out, mnist_dir=args.mnist_dir, epochs=args.epochs,
                              seed=args.seed)
    print(json.dumps(metrics, indent=2))
    print(f"wrote {out}/")
    if args.finetune is not None:
        print(f"next: make check MODEL={out / args.model}.tflite, then make verilog / cosim "
              f"with the same MODEL")
    if args.promote:
        dst = presets.PRETRAINED
        for src, name in ((f"{args.model}.keras", f"{args.model}.keras"),
                          (f"{args.model}.tflite", f"{args.model}.tflite"),
                          ("metrics.json", f"{args.model}.json"),
                          ("training.png", f"{args.model}_training.png"),
                          ("confusion.png", f"{args.model}_confusion.png")):
            shutil.copyfile(out / src, dst / name)
        print(f"promoted to {dst}/")
    return 0


if __name__ == "__main__":
    run(main)
