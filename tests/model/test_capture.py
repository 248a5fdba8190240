"""Capture packets on the host: the CRC, the decoder's resynchronisation, the dataset file."""
import random

import numpy as np
import pytest

from model import capture
from model.data import DataError


def test_crc_is_ccitt_false():
    assert capture.crc16(b"123456789") == 0x29B1
    assert capture.crc16(b"") == 0xFFFF


def test_packet_layout():
    image = np.arange(64, dtype=np.uint8).reshape(8, 8)
    pkt = capture.encode(0x1234, 7, image)
    assert len(pkt) == capture.packet_bytes(8) == 74
    assert pkt[:8] == bytes([0xA5, 0x5A, 68, 0, 0x34, 0x12, 7, 8])
    assert pkt[8:72] == image.tobytes()
    assert int.from_bytes(pkt[72:], "little") == capture.crc16(pkt[2:72])


def packets(rng, k, n=5):
    caps = [capture.Capture(int(rng.integers(1 << 16)), int(rng.integers(10)),
                            rng.integers(0, 256, (n, n), dtype=np.uint8)) for _ in range(k)]
    return caps, [capture.encode(c.frame, c.digit, c.image) for c in caps]


def same(got, want):
    assert [(c.frame, c.digit) for c in got] == [(c.frame, c.digit) for c in want]
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g.image, w.image)


def test_decoder_in_any_pieces():
    rng = np.random.default_rng(1)
    caps, pkts = packets(rng, 6)
    stream = b"".join(pkts)
    for size in (1, 3, 29, len(stream)):
        dec = capture.Decoder()
        got = []
        for at in range(0, len(stream), size):
            got += dec.feed(stream[at:at + size])
        same(got, caps)
        assert (dec.skipped, dec.crc_errors, dec.pending) == (0, 0, 0)


def test_decoder_resynchronises_after_garbage_and_damage():
    rng = np.random.default_rng(2)
    caps, pkts = packets(rng, 8)
    r = random.Random(3)
    garbage = [bytes(r.randrange(256) for _ in range(r.randrange(1, 40))) for _ in range(8)]
    garbage[2] = b"\xa5\x5a\xff\xff" + garbage[2]        # a false sync with a bad length
    garbage[4] = pkts[1][:30]                               # a packet cut off (a reset)
    damaged = bytearray(pkts[5])
    damaged[20] ^= 0x10                                     # one flipped bit: CRC error
    stream = b""
    for k, p in enumerate(pkts):
        stream += garbage[k] + (bytes(damaged) if k == 5 else p)
    dec = capture.Decoder()
    got = []
    for at in range(0, len(stream), 17):
        got += dec.feed(stream[at:at + 17])
    same(got, [c for k, c in enumerate(caps) if k != 5])
    assert dec.crc_errors >= 1 and dec.bad_headers >= 1
    assert dec.packets == 7


def test_append_and_load(tmp_path):
    rng = np.random.default_rng(4)
    caps, _ = packets(rng, 5, n=8)
    capture.append(tmp_path, caps[:3], label=7)
    capture.append(tmp_path, caps[3:], label=2)
    assert capture.counts(tmp_path) == {7: 3, 2: 2}
    split = capture.load_dir(tmp_path)
    np.testing.assert_array_equal(split.x, np.stack([c.image for c in caps]))
    np.testing.assert_array_equal(split.y, [7, 7, 7, 2, 2])
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_append_refuses_another_size_and_keeps_the_file(tmp_path):
    rng = np.random.default_rng(5)
    small, _ = packets(rng, 2, n=8)
    big, _ = packets(rng, 1, n=28)
    path = capture.append(tmp_path, small, label=1)
    before = path.read_bytes()
    with pytest.raises(DataError, match="holds 8x8 images; these are 28x28"):
        capture.append(tmp_path, big, label=1)
    assert path.read_bytes() == before


def test_load_dir_errors(tmp_path):
    with pytest.raises(DataError, match="no such folder"):
        capture.load_dir(tmp_path / "nope")
    with pytest.raises(DataError, match="no .npz recordings"):
        capture.load_dir(tmp_path)
    (tmp_path / "x.npz").write_bytes(b"not a zip")
    with pytest.raises(DataError, match="x.npz: cannot read"):
        capture.load_dir(tmp_path)
