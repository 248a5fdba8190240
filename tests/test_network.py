"""The whole accelerator: `make verilog` output, co-simulation of real images against golden."""
import json
import subprocess
import sys

import numpy as np
import pytest

from cosim import network_sim as ns
from hdl.cnn import config as cfg
from hdl.cnn.parallel import Parallel
from hdl.flow import build
from model import golden, presets
from tests.conftest import ROOT
from tests.hdl.helpers import need_tools

# one worker builds the default digits folder and runs every test that uses it
DIGITS_GROUP = pytest.mark.xdist_group("digits_verilog")


@pytest.fixture(scope="session")
def digits_verilog(tmp_path_factory, nets):
    net = nets["digits_cnn"]
    out = tmp_path_factory.mktemp("digits_verilog")
    conf = cfg.load(presets.PRETRAINED / "digits_cnn.hw.json")
    build.build(net, conf, out, presets.get("digits_cnn").input_max)
    return net, out


def expected(net, model, images):
    return golden.run_network(net, net.quantize_input(presets.get(model).to_float(images))).logits


@DIGITS_GROUP
def test_verilog_folder_is_self_contained(digits_verilog, tmp_path):
    need_tools("iverilog", "verilator")
    _, out = digits_verilog
    text = (out / "digits_cnn_top.v").read_text()
    assert str(ROOT) not in text and "/tmp" not in text
    files = sorted(f.name for f in out.iterdir())
    assert "files.f" in files and "config.json" in files and "pixel_to_int8.mem" in files
    subprocess.run(["iverilog", "-Wall", "-o", str(tmp_path / "x.vvp"), "-f", "files.f"],
                   cwd=out, check=True, capture_output=True)
    proc = subprocess.run(["verilator", "--lint-only", "-Wall", "verilator_waivers.vlt",
                           "digits_cnn_top.v"], cwd=out, capture_output=True, text=True)
    assert proc.returncode == 0 and not proc.stderr.strip(), proc.stderr


@DIGITS_GROUP
def test_a_build_folders_config_loads_as_the_config_it_built(digits_verilog):
    """``--config build/<model>/verilog/config.json`` builds that design again."""
    net, out = digits_verilog
    built = cfg.validate(net, cfg.load(presets.PRETRAINED / "digits_cnn.hw.json"))
    again = cfg.validate(net, cfg.load(out / "config.json"))
    assert again == built


@DIGITS_GROUP
def test_digits_cosimulation_gaps_and_stalls(digits_verilog, digits, tmp_path):
    """Icarus through myhdl.Cosimulation: every logit equal, nothing lost or left inside."""
    need_tools("iverilog", "vvp")
    net, out = digits_verilog
    images = np.asarray(digits.test.x[:24])
    want = expected(net, "digits_cnn", images)
    ns.prepare(tmp_path, out, "digits_cnn_top", images, 10, gap=30, stall=30, seed=5)
    result = ns.run_cosim(tmp_path, "digits_cnn_top", 10)
    np.testing.assert_array_equal(result.logits, want)
    np.testing.assert_array_equal(result.classes, want.argmax(1))
    assert result.busy_at_end == 0
    assert result.extra["ev_logits"] == want.size
    assert result.extra["ev_logit_hash"] == ns.rolling_hash(want.ravel())
    assert result.extra["ev_class_hash"] == ns.rolling_hash(want.argmax(1))


# from the smallest config to the default (all taps in one clock, the fastest any config
# gets), with a folded one and two whose wide beats the dense layer splits (in "burst" pool1's
# odd rows bring 2-lane beats faster than dense1 takes their words one at a time)
@pytest.mark.parametrize("conf", [
    {"conv1": (1, 1), "dense1": (1, 1)},
    {"conv1": (2, 1), "dense1": (2, 4)},
    {"conv1": (8, 1), "dense1": (1, 4)},
    {"conv1": (4, 1, 9), "dense1": (5, 2)},
    {"conv1": (2, 1, 9), "dense1": (5, 1)},
    {"conv1": (8, 1, 9), "dense1": (2, 8)}],
    ids=["smallest", "small", "folded", "split", "burst", "default"])
def test_digits_cycle_model(nets, digits, tmp_path, conf):
    """The whole-network cycle model against the converted Verilog: latency (empty pipe) and
    initiation interval (back to back), over configs from the smallest to the fastest."""
    need_tools("iverilog", "vvp")
    net = nets["digits_cnn"]
    build.build(net, conf, tmp_path / "v", presets.get("digits_cnn").input_max)
    images = np.asarray(digits.test.x[:6])
    ns.prepare(tmp_path / "run", tmp_path / "v", "digits_cnn_top", images, 10)
    result = ns.run_icarus(tmp_path / "run", "digits_cnn_top", 10)
    np.testing.assert_array_equal(result.logits, expected(net, "digits_cnn", images))
    assert result.latency == cfg.latency(net, conf)
    assert result.interval == cfg.interval(net, conf)


@DIGITS_GROUP
def test_reset_in_the_middle_of_an_image(digits_verilog, digits, tmp_path):
    """Reset while image 1 streams in: images 2.. are classified exactly, image 1 is dropped."""
    need_tools("iverilog", "vvp")
    net, out = digits_verilog
    images = np.asarray(digits.test.x[:6])
    want = expected(net, "digits_cnn", images)
    pixels = images[0].size
    ns.prepare(tmp_path, out, "digits_cnn_top", images, 10, expect=4, reset_at=pixels + 30,
               gap=10, stall=10)
    result = ns.run_icarus(tmp_path, "digits_cnn_top", 10)
    # image 0 is still inside when the reset comes (its class needs 162 cycles), so exactly
    # images 2..5 come out, bit for bit
    np.testing.assert_array_equal(result.logits, want[2:])
    np.testing.assert_array_equal(result.classes, want[2:].argmax(1))
    assert result.busy_at_end == 0


# Icarus: 97,000 clocks at about 760 a second (over 2 minutes); the digits network runs in
# Icarus in the default suite, through Cosimulation, with gaps and stalls
@pytest.mark.parametrize("sim", ["verilator", pytest.param("icarus", marks=pytest.mark.slow)])
def test_mnist_default_config(nets, mnist, tmp_path, sim):
    """The mnist_cnn default config (83 multipliers) in converted Verilog, bit for bit, and
    the latency the cycle model predicts: one image."""
    need_tools(*(("iverilog", "vvp") if sim == "icarus" else ("verilator",)))
    net = nets["mnist_cnn"]
    conf = cfg.load(presets.PRETRAINED / "mnist_cnn.hw.json")
    vdir = tmp_path / "verilog"
    build.build(net, conf, vdir, presets.get("mnist_cnn").input_max)
    images = np.asarray(mnist.test.x[:1])
    ns.prepare(tmp_path / "run", vdir, "mnist_cnn_top", images, 10)
    run = ns.run_icarus if sim == "icarus" else ns.run_verilator
    result = run(tmp_path / "run", "mnist_cnn_top", 10)
    np.testing.assert_array_equal(result.logits, expected(net, "mnist_cnn", images))
    assert cfg.multipliers(conf) <= 90
    assert result.latency == cfg.latency(net, conf)


# "conv-split": conv1's 4-lane beats, pooled in bursts, split into conv2's 2-wide words
@pytest.mark.parametrize("par", [pytest.param({"conv2": (16, 8)}, marks=pytest.mark.slow),
                                 {"conv1": (2, 1), "conv2": (4, 4)},
                                 {"conv1": (4, 1, 9), "conv2": (4, 2, 9)}],
                         ids=["conv2-16x8", "small", "conv-split"])
def test_mnist_cycle_model_verilator(nets, mnist, tmp_path, par):
    """Three more mnist configs in Verilator: 4 images bit for bit, the latency and interval
    the cycle model predicts (the default config is measured by the slow test)."""
    need_tools("verilator")
    net = nets["mnist_cnn"]
    conf = {**cfg.load(presets.PRETRAINED / "mnist_cnn.hw.json"), **par}
    build.build(net, conf, tmp_path / "v", presets.get("mnist_cnn").input_max)
    images = np.asarray(mnist.test.x[:4])
    ns.prepare(tmp_path / "run", tmp_path / "v", "mnist_cnn_top", images, 10)
    result = ns.run_verilator(tmp_path / "run", "mnist_cnn_top", 10)
    np.testing.assert_array_equal(result.logits, expected(net, "mnist_cnn", images))
    assert result.latency == cfg.latency(net, conf)
    assert result.interval == cfg.interval(net, conf)


def test_config_errors(nets):
    net = nets["mnist_cnn"]
    with pytest.raises(ValueError, match="conv9"):
        cfg.validate(net, {**cfg.load(presets.PRETRAINED / "mnist_cnn.hw.json"), "conv9": (1, 1)})
    with pytest.raises(ValueError, match="no entry for layer dense2"):
        cfg.validate(net, {"conv1": (1, 1), "conv2": (1, 1), "conv3": (1, 1), "dense1": (1, 1)})
    with pytest.raises(ValueError, match="PE=3 must divide"):
        cfg.validate(net, {**cfg.load(presets.PRETRAINED / "mnist_cnn.hw.json"), "conv1": (3, 1)})
    with pytest.raises(ValueError, match="LAYER=PExSIMD"):
        cfg.parse_override("conv2:8")
    assert cfg.parse_override("conv1=8x1x9") == ("conv1", Parallel(8, 1, 9))
    digits = nets["digits_cnn"]
    with pytest.raises(ValueError, match="layer dense1: SIMD=3 and the 8 channels"):
        cfg.validate(digits, {"conv1": (8, 1, 9), "dense1": (1, 3)})
    with pytest.raises(ValueError, match="layer conv1: taps=2 must be 1"):
        cfg.validate(digits, {"conv1": (8, 1, 2), "dense1": (1, 1)})


def test_auto_config_meets_its_target(nets):
    net = nets["mnist_cnn"]
    conf = cfg.auto(net, budget=90)
    assert cfg.multipliers(conf) <= 90
    fast = cfg.auto(net, ii=cfg.interval(net, conf))
    assert cfg.interval(net, fast) <= cfg.interval(net, conf)
    assert cfg.multipliers(fast) <= cfg.multipliers(conf)
    with pytest.raises(ValueError, match="budget 3"):
        cfg.auto(net, budget=3)
    # digits: the fastest interval is the 64-pixel input, reached with all taps in one clock
    digits = nets["digits_cnn"]
    fastest = cfg.auto(digits, ii=64)
    assert cfg.interval(digits, fastest) == 64 and fastest["conv1"].taps == 9


def test_auto_config_places_on_the_ecp5(nets):
    """Of the configs with equal multipliers and interval, auto picks the one whose systolic
    rows fit the ECP5-85F's three rows of 52 multiplier sites: at 156 multipliers mnist's conv2
    as 8 rows of 16, not 4 rows of 32, whose fourth row fits no DSP row (the flow placed 147
    and 108 of the 156 stages of the two; the 4x32 config routed at 0.60-0.71 of the smallest
    config's fmax, the 8x16 one at 0.82)."""
    net = nets["mnist_cnn"]
    conf = cfg.auto(net, budget=156)
    assert str(conf["conv2"]) == "8x16" and cfg.multipliers(conf) == 156
    assert cfg.placed_stages(conf) == 147
    long_rows = {**conf, "conv2": Parallel(4, 32)}
    assert cfg.interval(net, long_rows) == cfg.interval(net, conf)
    assert cfg.placed_stages(long_rows) < cfg.placed_stages(conf)
    # below a third of the sites every row places
    for budget in (16, 32, 50):
        picked = cfg.auto(net, budget=budget)
        assert cfg.placed_stages(picked) == cfg.multipliers(picked)


def test_cli_errors():
    for args, msg in [(["--model", "digits_cnn", "--par", "conv1=3x1"], "PE=3"),
                      (["--model", "digits_cnn", "--par", "nope"], "LAYER=PExSIMD")]:
        proc = subprocess.run([sys.executable, "scripts/make_verilog.py", *args], cwd=ROOT,
                              capture_output=True, text=True)
        assert proc.returncode == 2 and msg in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.slow
@DIGITS_GROUP
def test_digits_whole_test_split_verilator(digits_verilog, digits, tmp_path):
    need_tools("verilator")
    net, out = digits_verilog
    images = np.asarray(digits.test.x)
    ns.prepare(tmp_path, out, "digits_cnn_top", images, 10, gap=5, stall=5)
    result = ns.run_verilator(tmp_path, "digits_cnn_top", 10)
    np.testing.assert_array_equal(result.logits, expected(net, "digits_cnn", images))


@pytest.mark.slow
def test_mnist_hundreds_of_images_verilator(nets, mnist, tmp_path):
    """500 MNIST test images through the default config with 5% input gaps and output stalls:
    every logit equal, nothing left inside; then the empty-pipe latency and the interval
    back to back match the cycle model."""
    need_tools("verilator")
    net = nets["mnist_cnn"]
    conf = cfg.load(presets.PRETRAINED / "mnist_cnn.hw.json")
    build.build(net, conf, tmp_path / "v", presets.get("mnist_cnn").input_max)
    images = np.asarray(mnist.test.x[:500])
    want = expected(net, "mnist_cnn", images)
    ns.prepare(tmp_path / "gaps", tmp_path / "v", "mnist_cnn_top", images, 10, gap=5, stall=5)
    result = ns.run_verilator(tmp_path / "gaps", "mnist_cnn_top", 10)
    np.testing.assert_array_equal(result.logits, want)
    np.testing.assert_array_equal(result.classes, want.argmax(1))
    assert result.busy_at_end == 0
    ns.prepare(tmp_path / "clean", tmp_path / "v", "mnist_cnn_top", images[:20], 10)
    result = ns.run_verilator(tmp_path / "clean", "mnist_cnn_top", 10)
    assert result.latency == cfg.latency(net, conf)
    assert result.interval == cfg.interval(net, conf) <= 40_000


@DIGITS_GROUP
def test_vcd_of_one_image_and_gtkwave_save_file(digits_verilog, digits, tmp_path):
    """--vcd: the dump stops at the first class index, and every trace the GTKWave save file
    names exists in the VCD with its width."""
    need_tools("iverilog", "vvp")
    net, out = digits_verilog
    images = np.asarray(digits.test.x[:3])
    ns.prepare(tmp_path, out, "digits_cnn_top", images, 10, vcd=True)
    result = ns.run_icarus(tmp_path, "digits_cnn_top", 10)
    vcd = (tmp_path / "wave.vcd").read_text()
    scope = vcd.split("$scope module tb $end")[1].split("$scope")[0]
    widths = {}
    for line in scope.splitlines():
        parts = line.split()
        if parts[:1] == ["$var"]:
            widths[parts[4]] = int(parts[2])
    traces = [line for line in (tmp_path / "wave.gtkw").read_text().splitlines()
              if line.startswith("tb.")]
    assert len(traces) == len(ns.WAVES)
    for trace in traces:
        name = trace[3:].split("[")[0]
        assert name in widths, f"{name} is not in wave.vcd"
        bits = int(trace.split("[")[1].split(":")[0]) + 1 if "[" in trace else 1
        assert widths[name] == bits, trace
    assert "1ps" in vcd.split("$timescale")[1].split("$end")[0]
    last_ns = max(int(line[1:]) for line in vcd.splitlines() if line.startswith("#")) / 1000
    first_class_ns = result.ends[0] * 20  # 20 ns clock
    assert first_class_ns - 40 <= last_ns <= first_class_ns + 40
    assert result.ends[-1] * 20 > last_ns + 100 * 20  # later images are not dumped
