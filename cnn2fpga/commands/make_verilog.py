"""Convert a model's whole accelerator to Verilog (what `make verilog` runs).

Writes OUT (default build/<model>/verilog/): <model>_top.v, every .mem it reads, files.f,
verilator_waivers.vlt and config.json. The folder is self-contained (no absolute paths):
  iverilog -f files.f                                    # compiles
  verilator --lint-only -Wall verilator_waivers.vlt <model>_top.v

Parallelism per layer: the model's config (model/pretrained/<model>.hw.json for a preset,
--config FILE otherwise), --par LAYER=PExSIMD (or PExSIMDxT, T taps of a k x k convolution
a clock: a row, 8x1x3, or all, 8x1x9, for a 3x3) to override one layer, or --auto-budget N (the
fastest config within N multipliers) / --auto-ips R (the fewest multipliers for R images/s at
--clock-mhz).

--board NAME (de10lite, basys3, icebreaker, ulx3s) writes a board top instead (build/<board>/verilog/):
the camera system (OV7670 -> preprocess -> CNN -> 7-segment/LEDs and a UART line per frame)
with the board's constraints beside it; the model defaults to the board's (mnist_cnn for the
DE10-Lite and the Basys3, digits_cnn for the iCEBreaker).

Examples:
  cnn2fpga verilog --model mnist_cnn
  cnn2fpga verilog --board icebreaker
  cnn2fpga verilog --model mnist_cnn --par conv2=8x4 --out build/mnist_small
  cnn2fpga verilog --model digits_cnn --auto-budget 20
  cnn2fpga verilog --model path/to/model.keras --config my.hw.json
  cnn2fpga verilog --model my_20x20.tflite --pixel-max 255
"""
import argparse
import json
import sys
from pathlib import Path

from cnn2fpga.commands._cli import add_model_args, resolve_model, run


def progress():
    """A slow step's progress lines on a terminal's stderr (None when nobody watches: a pipe,
    a test, ``--json``'s reader)."""
    if sys.stderr.isatty():
        return lambda text: print(text, file=sys.stderr, flush=True)
    return None


def choose_config(net, src, *, par=None, auto_budget: int | None = None,
                  auto_ips: float | None = None, clock_mhz: float = 50.0, config=None,
                  device: str | None = None, smallest: bool = False,
                  variant: str | None = None) -> dict:
    """The config the config flags ask for (their values as keywords: ``par`` a list of
    "LAYER=PExSIMD" texts; the Python API's ``Network.hardware`` calls this too)."""
    from types import SimpleNamespace

    return resolve_config(net, src, SimpleNamespace(
        par=par, auto_budget=auto_budget, auto_ips=auto_ips, clock_mhz=clock_mhz,
        config=config, device=device, smallest=smallest, requant_dsp_bits=None), variant)


def resolve_config(net, src, args, variant: str | None = None):
    """The config the arguments ask for; ``variant`` (e.g. "up5k") prefers the preset's
    model/pretrained/<model>.<variant>.hw.json as the default when it exists. With
    ``--device`` alone, the fastest config that fits that device (multipliers and block
    RAMs); with other config flags too, their config, refused when it does not fit."""
    from hdl.cnn import config as cfg
    from hdl.flow import fit
    from model import presets

    if not args.clock_mhz > 0:
        raise ValueError(f"--clock-mhz {args.clock_mhz:g}: must be a positive frequency")
    device = fit.get(args.device) if getattr(args, "device", None) else None
    smallest = getattr(args, "smallest", False)
    chosen = (args.auto_budget is not None or args.auto_ips is not None or args.config
              or args.par or smallest)
    if device is not None and not chosen:
        conf, _ = fit.fastest_fitting(net, device, src.input_max, src.input_offset,
                                      report=progress())
        return cfg.validate(net, conf)
    if args.auto_budget is not None:
        if args.auto_budget < 1:
            raise ValueError(f"--auto-budget {args.auto_budget}: must be at least 1 multiplier")
        conf = cfg.auto(net, budget=args.auto_budget)
    elif args.auto_ips is not None:
        if not args.auto_ips > 0:
            raise ValueError(f"--auto-ips {args.auto_ips:g}: must be a positive rate in "
                             f"images per second")
        conf = cfg.auto(net, ii=max(1, int(args.clock_mhz * 1e6 / args.auto_ips)))
    elif args.config:
        conf = cfg.load(args.config)
    elif smallest:
        conf = cfg.smallest(net)
    else:
        default = presets.hw_config(src.name)
        if variant and presets.hw_config(src.name, variant).is_file():
            default = presets.hw_config(src.name, variant)
        if default.is_file():
            conf = cfg.load(default)
        elif args.par:  # a model file's layers by hand: the others at one multiplier each
            conf = cfg.smallest(net)
        else:  # a model file without a config: the fastest that fits the default device
            conf, _ = fit.fastest_fitting(net, fit.get(fit.DEFAULT_DEVICE), src.input_max,
                                          src.input_offset, report=progress())
    for text in args.par or []:
        name, value = cfg.parse_override(text)
        conf[name] = value
    conf = cfg.validate(net, conf)
    if device is not None:
        beyond = fit.over(net, conf, device, fit.block_rams(net, conf, device, src.input_max,
                                                                src.input_offset))
        if beyond:
            raise ValueError(f"--device {device.key}: the config of "
                             f"{' '.join(config_flags(args)[:-1]) or 'the default'} needs "
                             + "; ".join(beyond) + " (leave the config flags out for the "
                             "fastest config that fits)")
    return conf


def config_flags(args) -> list[str]:
    """The config flags on the command line, as typed (none: the default config)."""
    flags = [f"--config {args.config}"] if getattr(args, "config", None) else []
    if getattr(args, "auto_budget", None) is not None:
        flags.append(f"--auto-budget {args.auto_budget}")
    if getattr(args, "auto_ips", None) is not None:
        flags.append(f"--auto-ips {args.auto_ips:g} (at {args.clock_mhz:g} MHz)")
    flags += [f"--par {text}" for text in getattr(args, "par", None) or []]
    if getattr(args, "requant_dsp_bits", None) is not None:
        flags.append(f"--requant-dsp-bits {args.requant_dsp_bits}")
    if getattr(args, "smallest", False):
        flags.append("--smallest")
    if getattr(args, "device", None):
        flags.append(f"--device {args.device}")
    return flags


def chosen_by(src, args) -> str:
    """How the config was chosen, in words (for config.json and every command's report)."""
    from model import presets

    flags = config_flags(args)
    if flags:
        return " ".join(flags)
    if presets.hw_config(src.name).is_file():
        return f"the preset's config (model/pretrained/{presets.hw_config(src.name).name})"
    return "the default config (the fastest that fits the ECP5-85F, as --device ecp5-85f)"


def model_hash(src) -> str:
    """The .tflite's SHA-256 (its first 16 hex digits): a build records the model it is of."""
    import hashlib

    return hashlib.sha256(Path(src.tflite).read_bytes()).hexdigest()[:16]


def recorded_design(src, vdir: Path) -> dict | None:
    """What ``make verilog`` recorded in ``vdir``/config.json, or None (no build there)."""
    path = Path(vdir) / "config.json"
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except ValueError:
        return None


def recorded_config(net, rec: dict | None):
    """The config a recorded build (``recorded_design``) holds, validated for ``net``; None
    when there is none or it is another network's."""
    from hdl.cnn import config as cfg
    from hdl.cnn.parallel import Parallel

    if not rec:
        return None
    try:
        return cfg.validate(net, {k: Parallel(v["pe"], v["simd"], v.get("taps", 1))
                                  for k, v in rec["layers"].items()})
    except (KeyError, TypeError, ValueError):
        return None


def design(net, src, args, log) -> tuple:
    """The design a command after ``make verilog`` tests: (config, Verilog folder, top name,
    requant DSP bits, built now). Given config flags, that config, built into the folder and
    said so. Without, the design ``make verilog`` built in build/<model>/verilog, reused as
    it is when the model file is unchanged (no conversion) and rebuilt with the same config
    when the model changed; with no build there, the default config, built. Every path says
    which design it is on ``log``."""
    from hdl.cnn import config as cfg
    from hdl.flow import build

    vdir = Path("build") / src.name / "verilog"
    rec = recorded_design(src, vdir)
    digest = model_hash(src)
    conf, how, dsp_bits = None, None, args.requant_dsp_bits or 0
    if not config_flags(args) and rec and rec.get("model_sha256"):
        conf = recorded_config(net, rec)  # None: another network's folder, built over
        if conf is not None:
            how, dsp_bits = rec.get("chosen_by", "recorded"), rec.get("requant_dsp_bits", 0)
        if conf is not None and rec["model_sha256"] == digest:
            print(f"testing {vdir}: {how}, {cfg.multipliers(conf)} multipliers, interval "
                  f"{cfg.interval(net, conf):,} clocks (as make verilog built it)", file=log,
                  flush=True)
            return conf, vdir, rec["top"], dsp_bits, False
        if conf is not None:
            print(f"{src.label or src.name} changed since make verilog built {vdir}: rebuilding "
                  f"it with the same config ({how})", file=log, flush=True)
    if conf is None:
        conf, how = resolve_config(net, src, args), chosen_by(src, args)
        verb = "building" if config_flags(args) else "no build in " + str(vdir) + ": building"
        print(f"{verb} {how}, {cfg.multipliers(conf)} multipliers, interval "
              f"{cfg.interval(net, conf):,} clocks, into {vdir}/ ...", file=log, flush=True)
    top = build.build(net, conf, vdir, src.input_max, dsp_bits, src.input_offset,
                      notes={"model_sha256": digest, "chosen_by": how}).stem
    return conf, vdir, top, dsp_bits, True


def add_config_args(ap):
    from hdl.flow.fit import DEVICES

    ap.add_argument("--config", type=Path, help="JSON {layer: [PE, SIMD] or [PE, SIMD, 9]}, "
                                                "or a build folder's config.json (that design "
                                                "again); default: the preset's "
                                                "model/pretrained/<model>.hw.json")
    ap.add_argument("--par", action="append", metavar="LAYER=PExSIMD",
                    help="override one layer, e.g. conv2=8x4, or conv1=8x1x9 for all 9 taps "
                         "in one clock (repeatable)")
    ap.add_argument("--auto-budget", type=int, metavar="N",
                    help="pick the fastest config with at most N multipliers")
    ap.add_argument("--auto-ips", type=float, metavar="R",
                    help="pick the smallest config reaching R images/s at --clock-mhz")
    ap.add_argument("--smallest", action="store_true",
                    help="one multiplier a weighted layer: the smallest design (a model file's "
                         "default is the fastest that fits the ECP5-85F)")
    ap.add_argument("--clock-mhz", type=float, default=50.0, help="clock for --auto-ips (50)")
    ap.add_argument("--device", choices=list(DEVICES),
                    help="fit the design to a part: " + ", ".join(
                        f"{k} ({d.title}: {d.multipliers} multipliers, {d.brams} {d.bram})"
                        for k, d in DEVICES.items())
                    + ". Alone: the fastest config whose multipliers and block RAMs fit it; "
                      "with --par/--auto-budget/--config: that config, refused when it does "
                      "not fit")
    ap.add_argument("--requant-dsp-bits", type=int, choices=(0, 16),
                    help="low bits of each requantizer's product done in DSPs: 0 = all in "
                         "LUTs, the DSPs left to the MAC lanes (default; synth --target ice40: "
                         "16 = two DSPs per layer, far fewer LUTs)")


def main() -> int:
    from hdl.cnn import config as cfg
    from hdl.flow import build, fit

    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    add_model_args(ap, required=False, model_help="preset, an int8 .tflite or a .keras file "
                                                  "(with --board: the board's model by default)")
    ap.add_argument("--board", help="de10lite, basys3, icebreaker or ulx3s: a board top with the "
                                    "camera front-end")
    add_camera_arg(ap)
    ap.add_argument("--out", type=Path, help="output folder (default build/<model>/verilog, "
                                             "build/<board>/verilog with --board)")
    add_config_args(ap)
    args = ap.parse_args()
    if args.board:
        return board_main(args)
    if args.camera:
        ap.error("--camera sets the OV7670's size of a board top: it needs --board")
    if not args.model:
        ap.error("--model is required (or --board)")
    src = resolve_model(args)
    net = src.load_net()
    conf = resolve_config(net, src, args)
    out = args.out or Path("build") / src.name / "verilog"
    print(f"{src.name}: converting {len(net.layers)} layers to Verilog ...", flush=True)
    top = build.build(net, conf, out, src.input_max, args.requant_dsp_bits or 0,
                      src.input_offset,
                      notes={"model_sha256": model_hash(src), "chosen_by": chosen_by(src, args)})
    ii = cfg.interval(net, conf)
    device = fit.get(args.device or fit.DEFAULT_DEVICE)
    brams = json.loads((out / "config.json").read_text())["block_rams"][device.key]
    print(f"  layer    PE x SIMD x taps  multipliers  cycles/image  {device.bram} "
          f"({device.key})")
    lanes = cfg.lanes(net, conf)
    for layer in net.layers:
        if layer.has_weights:
            pe, simd, taps = par = conf[layer.name]
            print(f"  {layer.name:8s} {pe:3d} x {simd:<4d} x {taps}  {par.multipliers:8d}  "
                  f"{cfg.layer_cycles(layer, conf[layer.name], lanes[layer.name]):12,d}  "
                  f"{brams.get(layer.name, 0):6d}")
        elif layer.kind != "flatten" and brams.get(layer.name):
            print(f"  {layer.name:8s} {'':25s} {'':12s}  {brams[layer.name]:6d}")
    rest = sum(n for owner, n in brams.items() if owner in ("input", "network"))
    if rest:
        print(f"  {'(top)':8s} {'':25s} {'':12s}  {rest:6d}")
    other = cfg.other_multipliers(net, conf)
    more = f" (+ {other} average-pool multipliers)" if other else ""
    print(f"  total multipliers {cfg.multipliers(conf)}{more}, predicted interval {ii:,} clocks "
          f"({args.clock_mhz * 1e6 / ii:,.0f} images/s at {args.clock_mhz:g} MHz), "
          f"{sum(brams.values())} of the {device.title}'s {device.brams} {device.bram} block "
          f"RAMs (Yosys' mapping, estimated)")
    print(f"wrote {top} and {len(list(out.glob('*.mem')))} .mem files")
    faster = faster_configs(net, conf)
    if faster:
        print(f"faster configs (at {args.clock_mhz:g} MHz; docs/models.md#make-it-faster):")
        for budget, mults, interval in faster:
            beyond = (f"  (beyond the {device.key}'s {device.multipliers})"
                      if mults > device.multipliers else "")
            print(f"  --auto-budget {budget:<4d} (AUTO_BUDGET={budget})  {mults:4d} multipliers  "
                  f"{args.clock_mhz * 1e6 / interval:12,.0f} images/s{beyond}")
    return 0


def faster_configs(net, conf, count: int = 3) -> list[tuple[int, int, int]]:
    """The next ``count`` configs up from ``conf``: (the --auto-budget that picks it, its
    multipliers, its interval), each faster than the one before, budgets doubling."""
    from hdl.cnn import config as cfg

    best = cfg.interval(net, cfg.fastest(net))
    now, budget, found = cfg.interval(net, conf), max(2, cfg.multipliers(conf)), []
    while len(found) < count and now > best and budget <= 4096:
        budget *= 2
        pick = cfg.auto(net, budget=budget)
        if cfg.interval(net, pick) < now:
            now = cfg.interval(net, pick)
            found.append((budget, cfg.multipliers(pick), now))
    return found


def add_camera_arg(ap) -> None:
    from model.preprocess import CAMERAS, DEFAULT_CAMERA

    ap.add_argument("--camera", type=str.lower, choices=list(CAMERAS),
                    help="with --board: the OV7670's output size, " + ", ".join(
                        f"{name} {w}x{h}" for name, (w, h) in CAMERAS.items())
                    + f" (default {DEFAULT_CAMERA})")


def board_camera(args) -> str:
    """The OV7670 size a board command builds: --camera, else the default (QQVGA)."""
    from model.preprocess import DEFAULT_CAMERA

    return args.camera or DEFAULT_CAMERA


def board_geometry(board, src, camera: str):
    """The camera front-end's geometry for ``src`` on ``board`` at ``camera``'s size."""
    from model import preprocess

    try:
        return preprocess.for_model(src.name, camera=camera)
    except ValueError:
        raise ValueError(f"--board {board.name}: the camera front-end has geometries for the "
                         f"presets (mnist_cnn, digits_cnn), not {src.name}") from None


def board_main(args) -> int:
    from hdl.board import boards
    from hdl.cnn import config as cfg
    from hdl.flow import build

    board = boards.get(args.board)
    src = resolve_model(args, args.model or board.model)
    net = src.load_net()
    camera = board_camera(args)
    geo = board_geometry(board, src, camera)
    conf = resolve_config(net, src, args, board.variant)
    out = args.out or Path("build") / board.name / "verilog"
    print(f"{board.title}: {src.name} with the OV7670 front-end at {camera.upper()} "
          f"({geo.width}x{geo.height}) ...", flush=True)
    top = build.build_board(board, net, conf, geo, out, src.input_max, src.input_offset)
    cam = board.camera(geo)
    print(f"  system clock {board.sys_hz / 1e6:g} MHz, {cfg.multipliers(conf)} multipliers, "
          f"CNN interval {cfg.interval(net, conf):,} clocks, UART {board.baud} baud")
    checked = boards.pclk_constraint_mhz(board)
    checked = (f" (timing constrained and checked at {checked:g} MHz, the camera's fastest, "
               f"in {board.constraints[0]})" if checked else "")
    print(f"  camera: XCLK {board.xclk_hz / 1e6:g} MHz, PCLK {cam.pclk_hz / 1e6:g} MHz at "
          f"{camera.upper()}{checked}, {cam.fps:.1f} frames/s; crop {geo.side}x{geo.side} at "
          f"({geo.x0}, {geo.y0}), {geo.factor}x{geo.factor} pixels a cell -> {geo.n}x{geo.n}")
    if board.requant_dsp_bits:
        from model import export

        # a requantizer's low 16 product bits: 16 x (its multiplier's bits), in 16 x 16 DSPs
        mac = cfg.multipliers(conf)
        rq = sum(-(-(31 if layer.requant == "gemmlowp" else export.mult_bits(layer)) // 16)
                 for layer in net.layers if layer.has_weights)
        print(f"  DSPs: {mac} MAC + {rq} requantizer (the low {board.requant_dsp_bits} bits of "
              f"each product) = {mac + rq}")
    print(f"wrote {top} with {', '.join(board.constraints)}")
    return 0


if __name__ == "__main__":
    run(main)
