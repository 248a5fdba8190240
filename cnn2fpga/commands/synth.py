"""Synthesize a model's whole accelerator, or one layer's block, with Yosys; print resources.

Without --layer: the whole top as `make verilog` builds it (the model's config, --par
overrides), into OUT (default build/<model>/synth/<target>/), with the device's capacity
beside each resource in report.txt and summary.json; for ice40 and ecp5 also nextpnr's logic
cells, fmax and critical path, and with --bitstream the .bin (icepack) or .bit (ecppack).
The tools are the pinned YoWASP builds `make setup` installs; summary.json names their
versions. With --layer: that layer's block (conv2d or dense)
at --pe/--simd. Either way the mapped cells are grouped as LUT / FF / DSP / block RAM; the
full cell list and the Yosys log stay in OUT.

Examples:
  cnn2fpga synth --model mnist_cnn                    # Artix-7 (synth_xilinx)
  cnn2fpga synth --model digits_cnn --target ice40    # iCE40 UP5K (synth_ice40 -dsp -abc9)
  cnn2fpga synth --model mnist_cnn --target ecp5 --bitstream   # ECP5-85F: .bit, fmax
  cnn2fpga synth --model mnist_cnn --layer conv2 --pe 8 --simd 4
  cnn2fpga synth --model mnist_cnn --layer all        # every layer at the config
  cnn2fpga synth --model mnist_cnn --layer dense1 --pe 4 --simd 4 --target ice40
"""
import argparse
import json
from pathlib import Path

from cnn2fpga.commands._cli import add_model_args, resolve_model, run
from cnn2fpga.commands.make_verilog import add_camera_arg, add_config_args


# a resource this full is worth a warning (the iCEBreaker camera top sits at 92 % of the cells)
NEAR_FULL = 0.9


def finish(title: str, flow: dict, doc: dict, out: Path, routed: bool, freq_mhz: float,
           seed: int, pcf: Path | None = None) -> None:
    """Print the resource/fmax report, and write it (report.txt) and ``doc`` (summary.json)."""
    report = [title]
    for name, row in flow["fit"].items():
        used, cap = row["used"], row["capacity"]
        report.append(f"  {name:8s} {used:7,d} / {cap:7,d}  {used / cap:6.1%}"
                      f"{'  OVER' if used > cap else ''}")
    extra = {k: v for k, v in flow["resources"].items() if k not in flow["fit"]}
    if extra:
        report.append("  also: " + ", ".join(f"{k} {v:,}" for k, v in extra.items()))
    moved = flow.get("dsp_registers")
    if moved and moved["flip_flops"]:
        report.append(f"  in the multipliers: {moved['flip_flops']:,} flip-flops moved into "
                      f"{moved['multipliers']} MULT18X18D ({moved['inputs']} input ports, "
                      f"{moved['pipelines']} pipeline registers; not counted under FF)")
    placed = (moved or {}).get("placed")
    if placed and placed["rows"]:
        left = (f", {placed['left']} stages of longer rows left to nextpnr"
                if placed.get("left") else "")
        report.append(f"  systolic rows: {placed['rows']} given side-by-side multiplier sites "
                      f"({placed['stages']} stages{left}; hdl.flow.ecp5_dsp.place)")
    pnr = flow["pnr"]
    if routed and pnr is None:
        report.append(f"  not placed: over on {', '.join(flow['over'])}")
    elif pnr is not None:
        used, total = pnr["lc"]
        report.append(f"  logic cells {used:,} / {total:,} ({used / total:.1%})"
                      + (f", every port placed by {pcf.name}" if pcf else ""))
        if len(pnr["clocks"]) > 1:
            for clock, mhz in pnr["clocks"].items():
                want = pnr.get("clock_targets", {}).get(clock)
                report.append(f"  clock {clock}: fmax {mhz:.2f} MHz after routing"
                              + (f" (needs {want:g})" if want else ""))
        report.append(f"  fmax {pnr['fmax_mhz']:.2f} MHz after routing "
                      f"({'meets' if pnr['met'] else 'MISSES'} {freq_mhz:g} MHz; "
                      f"seed {pnr['seed']}, {pnr['router']}; {pnr['nextpnr']}; "
                      f"commit {flow.get('commit', 'unknown')})")
        if pnr.get("critical_path"):
            path = pnr["critical_path"]
            report.append(f"  critical path ({len(path)} steps; whole report in nextpnr.log):")
            report += [f"    {line}" for line in path[:3] + (["..."] if len(path) > 6 else [])
                       + path[-3:]]
    if flow["bitstream"]:
        binary = out / flow["bitstream"]
        # one programming command everywhere: make prog (openFPGALoader underneath)
        board = "icebreaker" if binary.suffix == ".bin" else "ulx3s"
        default = Path("build") / board / "synth" / f"board_{board}{binary.suffix}"
        image = "" if binary == default else f" IMAGE={binary}"
        report.append(f"  bitstream {binary} ({binary.stat().st_size:,} bytes): write it with "
                      f"make prog BOARD={board}{image}")
    warn = [f"{name} at {row['used'] / row['capacity']:.0%} of the device: placement may fail "
            f"and timing suffer" for name, row in flow["fit"].items()
            if NEAR_FULL <= row["used"] / max(row["capacity"], 1) <= 1]
    if pnr is not None and not pnr["met"]:
        warn += [f"clock {clock}: fmax {got:.2f} MHz misses its {want:g} MHz target"
                 for clock, (got, want) in pnr.get("missed", {}).items()]
    report += [f"  warning: {w}" for w in warn]
    print("\n".join(report))
    (out / "report.txt").write_text("\n".join(report) + "\n")
    (out / "summary.json").write_text(json.dumps(doc, indent=1) + "\n")
    print(f"  {out}/report.txt, {out}/summary.json")


def tuned_design(net, src, args):
    """(config, how it was chosen) of a design ``make verilog`` built with config flags in
    build/<model>/verilog for this very model file, when no config flag is given here; else
    None (the target's default config)."""
    from cnn2fpga.commands.make_verilog import config_flags, model_hash, recorded_config, recorded_design

    if config_flags(args):
        return None
    rec = recorded_design(src, Path("build") / src.name / "verilog")
    if not rec or not str(rec.get("chosen_by", "")).startswith("--") or \
            rec.get("model_sha256") != model_hash(src):
        return None
    conf = recorded_config(net, rec)
    return None if conf is None else (conf, rec["chosen_by"])


def whole(src, net, args) -> int:
    from hdl.cnn import config as cfg
    from hdl.flow import build, synth
    from model import presets
    from cnn2fpga.commands.make_verilog import resolve_config

    ice40 = args.target == "ice40"
    routed = args.target in synth.PNR
    if args.freq_mhz is None:
        args.freq_mhz = synth.FREQ_MHZ[args.target]
    variant = "up5k" if ice40 else None
    conf = resolve_config(net, src, args, variant=variant)
    dsp_bits = args.requant_dsp_bits if args.requant_dsp_bits is not None else 16 * ice40
    tuned = tuned_design(net, src, args)
    if tuned is not None:
        conf, how = tuned
        print(f"config: the one make verilog built in build/{src.name}/verilog ({how}); "
              f"config flags here choose another", flush=True)
    out = args.out or Path("build") / src.name / "synth" / args.target
    chosen = presets.hw_config(src.name, variant)
    if ice40 and chosen.is_file() and not (args.config or args.par or args.auto_budget
                                           or args.auto_ips):
        print(f"config for the UP5K: model/pretrained/{chosen.name}", flush=True)
    print(f"{src.name}: converting the accelerator ({cfg.multipliers(conf)} MAC multipliers, "
          f"requantizer products: {dsp_bits} low bits in DSPs) ...", flush=True)
    top = build.build(net, conf, out, src.input_max, dsp_bits, src.input_offset)
    if routed:
        exe, part, packer, _, _ = synth.PNR[args.target]
        then = (f", then {exe} {' '.join(part)} --freq {args.freq_mhz:g} if it fits"
                + (f" and {packer}" if args.bitstream else ""))
    print(f"Yosys (script: {synth.script_path(top, args.target)}){then if routed else ''} ...",
          flush=True)
    flow = synth.run_flow(top, args.target, out, freq_mhz=args.freq_mhz, seed=args.seed,
                          bitstream=args.bitstream, dsp_registers=not args.fabric_registers,
                          router=args.router, dsp_sites=not args.free_placement)
    doc = {"model": src.name, "config": cfg.to_json(conf),
           "multipliers": cfg.multipliers(conf), "requant_dsp_bits": dsp_bits, **flow}
    finish(f"{src.name} on {flow['device']}, {flow['yosys']}:", flow, doc, out, routed,
           args.freq_mhz, args.seed)
    refuse_if_over(src.name, flow)
    return 1 if args.bitstream and not flow["bitstream"] else 0


def refuse_if_over(name: str, flow: dict) -> None:
    """A design beyond the device is refused (after its report), naming each resource."""
    from hdl.flow.synth import SynthError

    over = [f"{res} {flow['fit'][res]['used']:,} (the device has {flow['fit'][res]['capacity']:,})"
            for res in flow["over"]]
    if over:
        raise SynthError(f"{name} does not fit the {flow['device']}: {'; '.join(over)}; choose "
                         f"a smaller config (--par, --auto-budget) or another target")


BOARD_TARGET = {"icebreaker": "ice40", "ulx3s": "ecp5", "basys3": "xilinx"}
TIMING_SEEDS = 3   # placer seeds a board build tries before it reports a missed clock


def board_flow(args) -> int:
    """A board top through the open flow: the iCEBreaker through Yosys, nextpnr-ice40 with its
    .pcf and, with --bitstream, icepack; the ULX3S through Yosys, nextpnr-ecp5 with its .lpf
    and ecppack (both: every top port placed, every clock checked against its constraint,
    up to TIMING_SEEDS placer seeds); the Basys3 through Yosys synth_xilinx for its resources
    (no open 7-series place and route)."""
    from hdl.board import boards
    from hdl.flow import build, synth
    from cnn2fpga.commands.make_verilog import board_camera, board_geometry, resolve_config

    board = boards.get(args.board)
    if board.name == "de10lite":
        raise ValueError("--board de10lite: Yosys' synth_intel cannot map the initialised ROMs "
                         "to M9K blocks; `make verilog BOARD=de10lite` writes a Quartus "
                         "project (build/de10lite/verilog/de10lite.qpf, quartus_build.tcl)")
    target = BOARD_TARGET[board.name]
    routed = target in synth.PNR
    if args.bitstream and not routed:
        raise ValueError(f"--bitstream: the open flow has no {board.name} bitstream (it packs "
                         f"the iCEBreaker's iCE40 and the ULX3S's ECP5)")
    src = resolve_model(args, args.model or board.model)
    net = src.load_net()
    conf = resolve_config(net, src, args, board.variant)
    out = args.out or Path("build") / board.name / "synth"
    freq = board.sys_hz / 1e6
    exe = synth.PNR[target][0] if routed else None
    print(f"{board.title}: {src.name} with the camera front-end -> Yosys "
          f"(script: {synth.script_path(out / (board.top + '.v'), target)})"
          + (f", {exe} with {board.constraints[0]}" if routed else "") + " ...", flush=True)
    camera = board_camera(args)
    top = build.build_board(board, net, conf, board_geometry(board, src, camera), out,
                            src.input_max, src.input_offset)
    pcf = out / board.constraints[0] if routed else None
    flow = synth.run_flow(top, target, out, freq_mhz=freq, seed=args.seed,
                          bitstream=args.bitstream, pcf=pcf, timing_seeds=TIMING_SEEDS,
                          dsp_registers=not args.fabric_registers, router=args.router,
                          dsp_sites=not args.free_placement)
    doc = {"board": board.name, "model": src.name, "camera": camera, **flow}
    finish(f"{board.top} ({src.name}) on {flow['device']}, {flow['yosys']}:", flow, doc, out,
           routed, freq, args.seed, pcf=pcf)
    refuse_if_over(board.top, flow)
    pnr = flow["pnr"]
    if routed and pnr["missed"]:
        missed = "; ".join(f"{clock} reaches {got:.2f} MHz, {want - got:.2f} MHz short of its "
                           f"{want:g} MHz" for clock, (got, want) in pnr["missed"].items())
        raise synth.SynthError(f"{board.top} misses timing after {TIMING_SEEDS} placer seeds "
                               f"(from {args.seed}): {missed}")
    return 1 if args.bitstream and not flow["bitstream"] else 0


def one_layer(src, layer, par, target: str, out: Path | None) -> dict:
    """One layer's block (conv2d or dense) at ``par`` through Yosys; returns the resource
    groups (and, on xc7, the DSP cascades) and writes the cells beside the Verilog."""
    from myhdl import ResetSignal, Signal

    from cosim import icarus
    from hdl.cnn.conv2d import conv2d
    from hdl.cnn.dense import dense
    from hdl.cnn.parallel import write_block_mems
    from hdl.flow import synth
    from hdl.lib.stream import Stream

    par.check(layer)
    taps = f"_taps{par.taps}" if par.taps > 1 else ""
    out = out or (Path("build") / "synth" /
                  f"{src.name}_{layer.name}_pe{par.pe}_simd{par.simd}{taps}")
    paths = write_block_mems(layer, out, par)
    clk, rst = Signal(bool(0)), ResetSignal(0, active=1, isasync=False)
    top = f"{layer.name}_{layer.kind}"
    if layer.kind == "conv2d":
        wide = par.pe if par.taps > 1 else 1
        dut = conv2d(clk, rst, Stream(8), Stream(8) if wide == 1 else Stream(8 * wide, False),
                     layer=layer, pe=par.pe, simd=par.simd, paths=paths, taps=par.taps)
    else:
        dut = dense(clk, rst, Stream(8), Stream(8), layer=layer, pe=par.pe, simd=par.simd,
                    paths=paths)
    icarus.convert(dut, out, top, testbench=False)
    print(f"{src.name} {layer.name} ({layer.kind}, {par}): yosys {target} ...", flush=True)
    netlist = out / f"{target}.netlist.json" if target == "xilinx" else None
    result = synth.synthesize(out / f"{top}.v", top, target, log=out / f"{target}.log",
                              netlist=netlist)
    groups = synth.summary(result["cells"], target)
    if netlist is not None:
        groups["PCIN"] = synth.cascades(netlist)
    (out / f"{target}.cells.json").write_text(json.dumps(result["cells"], indent=2) + "\n")
    return {"layer": layer.name, "par": str(par), "multipliers": par.multipliers,
            "resources": groups, "seconds": result["seconds"], "out": str(out)}


def layer_table(rows: list[dict], target: str) -> str:
    """One line per layer: the MAC multipliers and every resource group any layer uses."""
    names = [n for n in dict.fromkeys(k for r in rows for k in r["resources"])]
    head = f"  {'layer':8s} {'PExSIMD':9s} {'mults':>5s} " + " ".join(f"{n:>7s}" for n in names)
    lines = [head]
    for r in rows:
        lines.append(f"  {r['layer']:8s} {r['par']:9s} {r['multipliers']:5d} "
                     + " ".join(f"{r['resources'].get(n, 0):7,d}" for n in names))
    return "\n".join(lines)


def main() -> int:
    from hdl.cnn.parallel import Parallel
    from hdl.flow import synth
    from cnn2fpga.commands.make_verilog import resolve_config

    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    add_model_args(ap, required=False)
    ap.add_argument("--board", help="a board top with the camera front-end: icebreaker "
                                    "(Yosys, nextpnr-ice40 with its .pcf), ulx3s (Yosys, "
                                    "nextpnr-ecp5 with its .lpf) or basys3 (Yosys)")
    add_camera_arg(ap)
    ap.add_argument("--layer", help="one layer's block (conv1, conv2, dense1, ...) at --pe/--simd/"
                                    "--taps, or `all`: every layer's block at the model's config "
                                    "(--config, --par), one table; default: the whole accelerator")
    ap.add_argument("--pe", type=int, default=1, help="output channels in parallel (default 1)")
    ap.add_argument("--simd", type=int, default=1, help="input channels per clock (default 1)")
    ap.add_argument("--taps", type=int, default=1, choices=(1, 9, 25, 49),
                    help="conv2d taps per clock: 1 (folded in time, default) or k*k (all at "
                         "once: 9 for a 3x3)")
    ap.add_argument("--target", default="xilinx", choices=sorted(synth.TARGETS) + ["xc7"],
                    help="xilinx (= xc7: Artix-7 resources, with the DSP cascades (PCIN) of "
                         "--layer), ice40 (UP5K: resources, place and route, fmax) or ecp5 "
                         "(LFE5U-85F, the ULX3S part: the same); default xilinx")
    ap.add_argument("--out", type=Path, help="work folder (default build/<model>/synth/<target> "
                                             "or build/synth/<model>_<layer>_pe<P>_simd<S>)")
    ap.add_argument("--freq-mhz", type=float,
                    help="ice40/ecp5: the clock nextpnr aims for (default 24 for ice40, 100 "
                         "for ecp5; a board: its system clock)")
    ap.add_argument("--seed", type=int, default=1, help="ice40/ecp5: nextpnr's placer seed (1)")
    ap.add_argument("--router", choices=synth.ROUTERS, default=synth.DEFAULT_ROUTER,
                    help="ice40/ecp5: nextpnr's router: router2 (the default; on mnist_cnn's "
                         "ECP5 build it routed in 3 minutes where router1 took over 30) or "
                         "router1 (nextpnr's own default)")
    ap.add_argument("--fabric-registers", action="store_true",
                    help="ecp5: leave the registers around each multiplier in the fabric "
                         "(by default they move into the MULT18X18D: hdl/flow/ecp5_dsp.py)")
    ap.add_argument("--free-placement", action="store_true",
                    help="ecp5: leave the systolic rows' multipliers to nextpnr's placer (by "
                         "default each row's stages get neighbouring DSP sites, in chain "
                         "order: hdl/flow/ecp5_dsp.py, place)")
    ap.add_argument("--bitstream", action="store_true",
                    help="ice40/ecp5: also pack the routed design: <top>.bin with icepack, "
                         "<top>.bit with ecppack")
    add_config_args(ap)
    args = ap.parse_args()
    if args.board:
        return board_flow(args)
    if args.camera:
        ap.error("--camera sets the OV7670's size of a board top: it needs --board")
    if not args.model:
        ap.error("--model is required (or --board)")
    if args.bitstream and args.target not in synth.PNR:
        raise ValueError(f"--bitstream needs --target ice40 or ecp5 (the open flow has no "
                         f"{args.target} bitstream)")
    args.target = "xilinx" if args.target == "xc7" else args.target
    src = resolve_model(args)
    net = src.load_net()
    if args.layer is None:
        return whole(src, net, args)
    layers = {layer.name: layer for layer in net.layers if layer.has_weights}
    if args.layer == "all":
        conf = resolve_config(net, src, args)
        rows = []
        for name, layer in layers.items():
            sub = args.out / name if args.out else None
            rows.append(one_layer(src, layer, Parallel.of(conf[name]), args.target, sub))
        print(f"{src.name}, every layer's block on its own ({synth.version()}, {args.target}):")
        print(layer_table(rows, args.target))
        return 0
    if args.layer not in layers:
        raise ValueError(f"--layer {args.layer}: {src.name} has {', '.join(layers)} (or all)")
    row = one_layer(src, layers[args.layer], Parallel(args.pe, args.simd, args.taps),
                    args.target, args.out)
    print(f"  MAC multipliers {row['multipliers']} (+ the requantizers')")
    for name, count in row["resources"].items():
        print(f"  {name:8s} {count}")
    print(f"  ({row['seconds']:.0f} s; cells in {row['out']}/{args.target}.cells.json)")
    return 0


if __name__ == "__main__":
    run(main)
