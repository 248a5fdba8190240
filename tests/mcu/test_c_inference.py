"""mcu/cnn2fpga.c == golden on every logit: whole digits test split and whole MNIST test set,
built with -std=c99 -Wall -Wextra -Werror and AddressSanitizer + UBSan; the requantizers on
their edge cases; the example sketch compiled as C++ against a Serial stub."""
import dataclasses
import shutil
import subprocess

import numpy as np
import pytest

from model import c_export, export, golden, presets, qnet
from tests.conftest import ROOT


def need_gcc(*names):
    for name in names or ("gcc",):
        if shutil.which(name) is None:
            pytest.skip(f"{name} is not installed (make setup installs it)")


@pytest.fixture(scope="module")
def exported(tmp_path_factory, nets, digits):
    """Both presets exported as `make export` does (weights and samples headers)."""
    out = {}
    for name in ("digits_cnn", "mnist_cnn"):
        folder = tmp_path_factory.mktemp(name)
        p = presets.get(name)
        samples = (np.asarray(digits.test.x[:4]), np.asarray(digits.test.y[:4])) \
            if name == "digits_cnn" else None
        export.export(nets[name], p.tflite.read_bytes(), folder, input_max=p.input_max,
                      samples=samples)
        out[name] = folder
    return out


def golden_logits(net, name, images):
    p = presets.get(name)
    return golden.run_network(net, net.quantize_input(p.to_float(images))).logits


# the whole digits test split (360) always; mnist: 2,000 images by default, all 10,000 in slow
@pytest.mark.parametrize("name,count", [("digits_cnn", None), ("mnist_cnn", 2000),
                                        pytest.param("mnist_cnn", None, marks=pytest.mark.slow)],
                         ids=["digits_cnn", "mnist_cnn-2000", "mnist_cnn-all"])
def test_test_set_bit_exact_sanitized(exported, nets, digits, mnist, tmp_path, name, count):
    need_gcc()
    data = digits if name == "digits_cnn" else mnist
    images = np.asarray(data.test.x)[:count]
    exe = c_export.compile_host(exported[name], name, tmp_path / "host", sanitize=True)
    got = c_export.run_host(exe, images, 10, tmp_path)
    want = golden_logits(nets[name], name, images)
    assert got.shape == want.shape
    np.testing.assert_array_equal(got, want)
    assert np.mean(got.argmax(1) == np.asarray(data.test.y)[:count]) > 0.9


def test_requant_edge_cases(tmp_path):
    """gemmlowp and round requantizers at the int32 limits, shifts both ways, ties, clamps:
    one C call per case against golden.requant."""
    need_gcc()
    from tests.hdl.layers import make_layer

    rng = np.random.default_rng(3)
    cases = []
    for mode in ("gemmlowp", "round"):
        layer = make_layer("dense", 4, 8, rng=rng, mode=mode, zp_out=-5, relu=(mode == "round"))
        acc = np.concatenate([[0, 1, -1, 2**31 - 1, -2**31, 2**30, -2**30 - 1],
                              rng.integers(-2**31, 2**31, 200)])
        if mode == "round":  # the integer form is proved for |acc| <= the layer's bound
            acc = np.clip(acc, -layer.acc_bound, layer.acc_bound)
        cases.append((layer, acc))
    # the int32 edges: results beyond int32 (round: INT32_MIN) and the zero point's wrap; the
    # integer form proved for scale 4 over the whole int32 range
    m4, n4 = qnet.rounding_multiplier(4.0, 2**31 - 1)
    for zp in (7, -7):
        big = dataclasses.replace(cases[1][0], weight_scale=np.full(8, 4.0), zp_out=zp,
                                  act_min=-128, act_max=127, multiplier=np.full(8, m4),
                                  shift=np.full(8, n4))
        cases.append((big, np.array([2**31 - 1, 2**29, 2**29 - 1, -2**31, -2**29, 5, -5])))
    top = dataclasses.replace(cases[0][0], multiplier=np.full(8, 2**31 - 1, np.int64),
                              shift=np.zeros(8, np.int64), zp_out=9, act_min=-128, act_max=127)
    cases.append((top, np.array([2**31 - 1, 2**31 - 5, 2**31 - 20, 1000])))
    # gemmlowp ties: M0 = 2^30 (one half) and right shifts make every odd value a tie
    half = dataclasses.replace(cases[0][0], multiplier=np.full(8, 1 << 30, np.int64),
                               shift=np.array([-1, -2, -3, -4, 0, 1, 2, -5], np.int64),
                               zp_out=0, act_min=-128, act_max=127)
    cases.append((half, np.arange(-200, 201)))
    # a ReLU6 clamp: act_max below 127 (zp + round(6 / scale))
    relu6 = dataclasses.replace(cases[0][0], act_min=-5, act_max=40)
    cases.append((relu6, cases[0][1]))
    src = ['#include <stdio.h>', '#include "cnn2fpga.h"', "int main(void) {"]
    cases = [(layer, acc, layer.requant) for layer, acc in cases]
    # the round layers once more through the double-precision form
    cases += [(layer, acc, "double") for layer, acc, kind in cases if kind == "round"]
    for i, (layer, acc, kind) in enumerate(cases):
        mult = ", ".join(f"{int(m)}LL" for m in layer.multiplier)
        shift = ", ".join(str(int(s)) for s in layer.shift)
        scale = ", ".join(repr(float(v)) for v in layer.round_scales)
        mode = {"gemmlowp": "C2F_GEMMLOWP", "round": "C2F_ROUND",
                "double": "C2F_ROUND_DOUBLE"}[kind]
        src += [f"  static const int64_t m{i}[] = {{{mult}}};",
                f"  static const int8_t s{i}[] = {{{shift}}};",
                f"  static const double d{i}[] = {{{scale}}};",
                f"  static const int32_t a{i}[] = {{{', '.join(f'{int(a)}' for a in acc)}}};",
                f"  c2f_layer l{i} = {{C2F_DENSE, {mode}, 1, 1, 4, {layer.c_out}, 0, "
                f"{layer.zp_out}, {layer.act_min}, {layer.act_max}, 0, 0, m{i}, s{i}, d{i}, "
                f"0, 1, 0, 0, 1, 1, 0, 1, 1, 0, 0, 0, 0}};",
                f"  for (unsigned k = 0; k < sizeof a{i} / sizeof a{i}[0]; k++)",
                f"    for (int o = 0; o < {layer.c_out}; o++)",
                f"      printf(\"%d\\n\", c2f_requant(&l{i}, a{i}[k], o));"]
    src += ["  return 0;", "}"]
    (tmp_path / "edge.c").write_text("\n".join(src) + "\n")
    exe = tmp_path / "edge"
    subprocess.run(["gcc", *c_export.CFLAGS, *c_export.SANITIZE, "-O1",
                    f"-I{c_export.MCU}", str(tmp_path / "edge.c"),
                    str(c_export.MCU / "cnn2fpga.c"), "-o", str(exe)], check=True)
    out = subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout.split()
    want = np.concatenate([golden.requant(np.repeat(acc[:, None], layer.c_out, 1)
                                          .astype(np.int64), layer).ravel()
                           for layer, acc, _ in cases])
    np.testing.assert_array_equal(np.array(out, np.int64), want)


def test_arduino_sketch_compiles_and_classifies(exported, nets, tmp_path, digits):
    """The example sketch, as the Arduino IDE builds it (.ino as C++, the library as C), on
    the host with a Serial stub: it prints each sample's class, which must be golden's."""
    need_gcc("gcc", "g++")
    sketch = ROOT / "mcu" / "examples" / "digit_classifier" / "digit_classifier.ino"
    stub = ROOT / "tests" / "mcu" / "arduino_stub"
    obj = tmp_path / "cnn2fpga.o"
    subprocess.run(["gcc", *c_export.CFLAGS, "-O2", "-c", f"-I{c_export.MCU}",
                    str(c_export.MCU / "cnn2fpga.c"), "-o", str(obj)], check=True)
    exe = tmp_path / "sketch"
    proc = subprocess.run(["g++", "-std=c++11", "-Wall", "-Wextra", "-Werror", "-x", "c++",
                           str(sketch), "-x", "none", str(stub / "main.cpp"), str(obj),
                           f"-I{stub}", f"-I{c_export.MCU}", f"-I{exported['digits_cnn']}",
                           "-o", str(exe)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    out = subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout
    classes = [int(line.split("class ")[1].split()[0]) for line in out.splitlines()
               if "class " in line]
    want = golden_logits(nets["digits_cnn"], "digits_cnn", np.asarray(digits.test.x[:4]))
    assert classes == list(want.argmax(1))
