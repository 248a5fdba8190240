"""Block RAMs before synthesis: the memories an elaboration notes, Yosys' choice for each
(``hdl.lib.memories.blocks``) against Yosys' own count, and configs fitted to a device."""
import json
import re

import numpy as np
import pytest

from hdl.lib.memories import Memory, block_count, blocks, varying_bits
from tests.hdl.helpers import need_fpga


@pytest.mark.parametrize("mem,primitive,want", [
    # a ROM goes to a block when its bits / 16 cost more than the block: 256 x 8 ties, LUTs
    (Memory("rom", 256, 8, "l"), "DP16KD", 0), (Memory("rom", 257, 8, "l"), "DP16KD", 1),
    (Memory("rom", 8192, 8, "l"), "DP16KD", 4), (Memory("rom", 512, 36, "l"), "DP16KD", 1),
    (Memory("rom", 256, 8, "l"), "EBR", 1),
    # a RAM: LUT RAM on the ECP5 when it costs no more than the blocks (34 x 128: 512 each)
    (Memory("ram", 34, 128, "l"), "DP16KD", 0), (Memory("ram", 72, 128, "l"), "DP16KD", 4),
    (Memory("ram", 16384, 8, "l"), "DP16KD", 8), (Memory("ram", 6, 8, "l"), "DP16KD", 0),
    # the iCE40 has no LUT RAM: 64 bits of flip-flops tie with an EBR, which wins
    (Memory("ram", 8, 8, "l"), "EBR", 1), (Memory("ram", 7, 8, "l"), "EBR", 0),
    (Memory("ram", 20000, 8, "l"), "RAMB18", 10)])
def test_yosys_choice(mem, primitive, want):
    assert blocks(mem, primitive) == want


def test_block_shapes_and_constant_bits():
    assert block_count(Memory("ram", 2048, 9, ""), "DP16KD") == 1
    assert block_count(Memory("ram", 2049, 9, ""), "DP16KD") == 2
    assert block_count(Memory("ram", 100, 72, ""), "DP16KD") == 2  # two 36-bit halves
    assert block_count(Memory("ram", 1000, 17, ""), "EBR") == 5  # five 4-bit slices, 1,024 deep
    assert varying_bits([0, 0, 0], 31) == 0  # all-zero biases: no memory at all
    assert varying_bits([-1, 1], 8) == 7 and varying_bits([3, 1, 2], 8) == 2


def netlist_blocks(path, top, cell):
    cells = json.loads(path.read_text())["modules"][top]["cells"]
    return sum(c["type"] == cell for c in cells.values())


@pytest.mark.parametrize("target,device", [("ecp5", "ecp5-85f"),
                                           pytest.param("ice40", "up5k",
                                                        marks=pytest.mark.slow)])
def test_estimate_equals_yosys(tmp_path, target, device):
    """A model whose memories take every path (a deep dense ROM over many blocks, its input
    buffer, line-buffer rows, small ROMs in logic): the estimate per device equals the block
    RAMs Yosys maps (synthesis only, no place and route); on the ECP5 the MULT18X18D are the
    MAC lanes, no more."""
    need_fpga("yosys")
    from keras import layers

    from hdl.cnn.parallel import Parallel
    from hdl.flow import build, fit, synth
    from model import qnet
    from tests.usermodels import seq, user_tflite

    model = seq(layers.Conv2D(4, 3, activation="relu"), layers.MaxPooling2D(2),
                layers.Flatten(), layers.Dense(12), shape=(22, 22, 1))
    path = user_tflite(model, tmp_path / "m.tflite")
    net = qnet.from_tflite(path)
    # dense1's PE of 3 is no power of two: its drain's channel index must not cost a DSP
    conf = {"conv1": Parallel(2, 1, 1), "dense1": Parallel(3, 2, 1)}
    top = build.build(net, conf, tmp_path / "v", 255.0)
    want = json.loads((tmp_path / "v" / "config.json").read_text())["block_rams"][device]
    assert want == fit.block_rams(net, conf, fit.DEVICES[device], 255.0)
    netlist = tmp_path / f"{target}.json"
    synth.synthesize(top, top.stem, target, log=tmp_path / f"{target}.log", netlist=netlist)
    cell = {"ecp5": "DP16KD", "ice40": "SB_RAM40_4K"}[target]
    assert sum(want.values()) == netlist_blocks(netlist, top.stem, cell) > 0
    if target == "ecp5":  # a DSP multiplier a MAC lane, and none besides
        assert netlist_blocks(netlist, top.stem, "MULT18X18D") == 2 + 6


def test_fastest_fitting_searches_down_to_the_block_rams():
    """A device with too few block RAMs for its multipliers' config: the largest budget whose
    config fits, found by bisection, and a refusal when not even the smallest fits."""
    from dataclasses import replace

    from hdl.cnn import config as cfg
    from hdl.flow import fit
    from model import source

    src = source.resolve("digits_cnn")
    net = src.load_net()
    base = replace(fit.DEVICES["up5k"], multipliers=156)  # EBR-bound, not DSP-bound
    full = fit.block_rams(net, cfg.auto(net, budget=156), base, src.input_max)
    small = fit.block_rams(net, cfg.smallest(net), base, src.input_max)
    assert sum(small.values()) < sum(full.values())
    tight = replace(base, brams=sum(full.values()) - 1)
    conf, brams = fit.fastest_fitting(net, tight, src.input_max)
    assert sum(brams.values()) <= tight.brams and cfg.multipliers(conf) < 156
    bigger = cfg.auto(net, budget=cfg.multipliers(conf) + 1)
    if cfg.interval(net, bigger) < cfg.interval(net, conf):  # the next faster one does not fit
        assert fit.over(net, bigger, tight, fit.block_rams(net, bigger, tight, src.input_max))
    with pytest.raises(ValueError, match=r"even the smallest config of digits_cnn needs \d+ "
                                         r"EBR block RAMs, it has 1"):
        fit.fastest_fitting(net, replace(base, brams=1), src.input_max)


def test_device_on_the_command_line(monkeypatch, capfd, tmp_path):
    """--device alone: the fastest config that fits, its block RAMs per layer printed; with a
    config that does not fit: refused, naming the resource and both counts."""
    from tests.usermodels import cli, refused

    code, out, err = cli(monkeypatch, capfd, "make_verilog", "--model", "digits_cnn",
                         "--device", "up5k", "--out", tmp_path / "v")
    assert code == 0, err
    doc = json.loads((tmp_path / "v" / "config.json").read_text())
    assert doc["multipliers"] <= 8 and "--device up5k" in doc["chosen_by"]
    assert sum(doc["block_rams"]["up5k"].values()) <= 30
    line = next(x for x in out.splitlines() if x.startswith("  total multipliers"))
    assert re.search(r"(\d+) of the iCE40 UP5K \(iCEBreaker\)'s 30 EBR block RAMs", line)
    msg = refused(monkeypatch, capfd, tmp_path, "make_verilog", "--model", "mnist_cnn",
                  "--auto-budget", "64", "--device", "up5k", "--out", tmp_path / "w")
    assert msg.startswith("--device up5k: the config of --auto-budget 64 needs ")
    assert re.search(r"needs \d+ multipliers, the iCE40 UP5K \(iCEBreaker\) has 8; \d+ EBR "
                     r"block RAMs, it has 30 \(leave the config flags out", msg)
    np.testing.assert_equal(sorted(p.name for p in tmp_path.iterdir()), ["v"])


def test_multipliers_left_go_to_latency():
    """spend_on_latency: the interval kept, the latency the cycle model's lower, the budget
    kept; with nothing left, the config unchanged."""
    from hdl.cnn import config as cfg
    from model import source

    net = source.resolve("mnist_cnn").load_net()
    conf = cfg.auto(net, budget=40)
    spent = cfg.spend_on_latency(net, conf, 64)
    assert cfg.interval(net, spent) <= cfg.interval(net, conf)
    assert cfg.latency(net, spent) < cfg.latency(net, conf)
    assert cfg.multipliers(conf) < cfg.multipliers(spent) <= 64
    assert cfg.spend_on_latency(net, conf, cfg.multipliers(conf)) == conf


def test_average_pools_multipliers_count_against_the_device(tmp_path):
    """An average pool's lanes each take a DSP multiplier beside the MAC lanes (Yosys maps the
    constant multiply of pool2d.average_lane to one): the fitted config leaves room for them,
    and a config that fills the device with MAC lanes is refused, both counts named."""
    from dataclasses import replace

    from keras import layers

    from hdl.cnn import config as cfg
    from hdl.flow import fit
    from model import qnet
    from tests.usermodels import seq, user_tflite

    model = seq(layers.Conv2D(6, 3, padding="same", activation="relu"),
                layers.AveragePooling2D((5, 5)), layers.Flatten(), layers.Dense(4),
                shape=(10, 10, 1))
    net = qnet.from_tflite(user_tflite(model, tmp_path / "avg.tflite"))
    device = replace(fit.DEVICES["ecp5-85f"], multipliers=20)
    conf, _ = fit.fastest_fitting(net, device, 255.0)
    other = cfg.other_multipliers(net, conf)
    assert other >= 1 and cfg.multipliers(conf) + other <= 20
    full = cfg.auto(net, budget=20)  # 2x1x9 + 1: 19 MAC lanes, and 2 average-pool lanes
    (why,) = fit.over(net, full, device, {})
    assert why == f"21 multipliers (19 MAC + 2 average pool), the {device.title} has 20"
