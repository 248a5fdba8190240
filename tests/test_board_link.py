"""The board test over the UART: host mode in every board top, driven by the host's own code
through a serial line at the top's pins in Verilator (``cnn2fpga board-test --sim``).

digits_cnn is inside every board here (the ``digits_board`` tops), so each board simulates in
seconds; every output value of every image is compared with golden, and the chip's own cycle
count with the cycle model.
"""
import json

import numpy as np
import pytest

from model import hostlink
from tests.hdl.helpers import need_tools
from tests.usermodels import cli, refused

BOARDS = ("de10lite", "basys3", "icebreaker", "ulx3s")


def board_test(monkeypatch, capfd, tmp_path, folder, name, *args):
    monkeypatch.chdir(tmp_path)
    code, out, err = cli(monkeypatch, capfd, "board_test", "--board", name, "--sim",
                         "--verilog", folder, "--json", *args)
    assert "Traceback" not in err, err
    return code, json.loads(out)


# the vendor boards (Basys 3, DE10-Lite: 25 s each) in the slow suite, as in test_board_sim.py
SLOW_BOARDS = {"basys3", "de10lite"}


@pytest.mark.parametrize("name", [pytest.param(n, marks=[pytest.mark.xdist_group(f"board_{n}")]
                                               + [pytest.mark.slow] * (n in SLOW_BOARDS))
                                  for n in BOARDS])
def test_board_test_in_simulation_on_every_board(monkeypatch, capfd, tmp_path, digits_board,
                                                  name):
    need_tools("verilator")
    code, report = board_test(monkeypatch, capfd, tmp_path, digits_board(name), name,
                              "--n", "4")
    assert code == 0
    assert report["images"] == report["bit_exact_images"] == 4 and report["all_bit_exact"]
    assert report["latency_cycles_min"] == report["latency_cycles_max"] \
        == report["predicted_latency"] and report["cycles_match"]
    assert report["frames_sent"] == 4 and report["refused"] == report["timeouts"] == 0
    assert report["left_host_mode"]
    assert report["accuracy_hw"] == report["accuracy_golden"]


# one fault a request, each costing one more send: (fault, refused by the board, timed out)
FAULTS = [
    ("flip:0:30", 1, 0),          # a payload bit: the CRC refuses it
    ("flip:2:0", 0, 1),           # the sync word: no frame seen, the host's wait runs out
    ("drop:4:10", 1, 0),          # one byte short: the line goes quiet mid-frame
    ("stall:6:20:0.001", 0, 0),   # a pause shorter than the board's silence: no harm
    ("stall:7:20:0.02", 1, 0),    # a longer one: refused mid-frame
    ("reply-flip:9:10", 0, 1),    # the reply's CRC fails on the host: sent again
    ("flip:11:2", 1, 0),          # the length: discarded until the line goes quiet
    ("flip:13:70", 1, 0),         # the request's CRC itself (71 bytes for 8x8)
]


@pytest.mark.xdist_group("board_icebreaker")
def test_link_faults_lose_no_image_and_change_no_value(monkeypatch, capfd, tmp_path,
                                                       digits_board):
    """Each fault of the list on its own request: every image still comes back whole and
    equal to golden, the board refuses exactly the broken requests and the host sends each
    of them again."""
    need_tools("verilator")
    args = [a for spec, _, _ in FAULTS for a in ("--fault", spec)]
    code, report = board_test(monkeypatch, capfd, tmp_path, digits_board("icebreaker"),
                              "icebreaker", "--n", "8", *args)
    assert code == 0 and report["all_bit_exact"] and report["cycles_match"]
    assert report["faults_injected"] == len(FAULTS)
    assert report["frames_sent"] == 8 + sum(r + t for _, r, t in FAULTS if r or t)
    assert report["refused"] == sum(r for _, r, _ in FAULTS)
    assert report["timeouts"] == sum(t for _, _, t in FAULTS)
    assert report["bad_replies"] == 1


def test_frames_round_trip_and_garbage_costs_only_itself():
    image = np.arange(64, dtype=np.uint8).reshape(8, 8)
    frame = hostlink.request(7, image)
    assert frame[:2] == b"\xa5\x5a" and len(frame) == 2 + 2 + 1 + 64 + 2
    assert int.from_bytes(frame[2:4], "little") == 64 and frame[4] == 7
    outputs = np.array([-128, -1, 0, 5, 127], dtype=np.int8)
    good = hostlink.reply(hostlink.RESULT, 7, 3, outputs, 123_456)
    bad = bytearray(good)
    bad[8] ^= 1
    dec = hostlink.Decoder()
    got = dec.feed(b"digit=1 frame=2\n" + bytes(bad) + hostlink.reply(hostlink.REFUSED, 9))
    got += dec.feed(good[:5]) + dec.feed(good[5:])
    assert [(r.kind, r.seq) for r in got] == [(hostlink.REFUSED, 9), (hostlink.RESULT, 7)]
    np.testing.assert_array_equal(got[1].outputs, outputs)
    assert got[1].index == 3 and got[1].cycles == 123_456 and dec.rejected == 1


def test_a_fault_spec_is_checked():
    assert hostlink.Fault.parse("stall:2:10:0.5") == hostlink.Fault("stall", 2, 10, 0.5)
    for spec in ("flop:1:2", "flip:1", "drop:-1:3", "stall:1:2:0"):
        with pytest.raises(ValueError, match="KIND:FRAME:BYTE"):
            hostlink.Fault.parse(spec)


def test_board_test_refusals(monkeypatch, capfd, tmp_path):
    err = refused(monkeypatch, capfd, tmp_path, "board_test", "--board", "icebreaker",
                  "--port", "/dev/nonexistent-cnn2fpga", "--n", "1")
    assert "no icebreaker build" in err and "cnn2fpga verilog --board icebreaker" in err
    err = refused(monkeypatch, capfd, tmp_path, "board_test", "--board", "icebreaker", "--sim",
                  "--fault", "flip:x:1")
    assert "KIND:FRAME:BYTE" in err
    err = refused(monkeypatch, capfd, tmp_path, "board_test", "--board", "icebreaker")
    assert "--port" in err and "--sim" in err


@pytest.mark.slow
@pytest.mark.parametrize("name", ["de10lite", "basys3", "ulx3s"])
def test_board_test_with_the_boards_own_model(monkeypatch, capfd, tmp_path, name):
    """Each mnist_cnn board as `make verilog BOARD=...` builds it (slow: a mnist_cnn board top
    in Verilator, 784-pixel frames at the board's baud rate)."""
    need_tools("verilator")
    monkeypatch.chdir(tmp_path)
    code, out, err = cli(monkeypatch, capfd, "board_test", "--board", name, "--sim", "--n", "3",
                         "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["model"] == "mnist_cnn" and report["all_bit_exact"] and report["cycles_match"]
    assert report["frames_sent"] == 3
