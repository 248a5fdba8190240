"""hdl.flow.build.to_verilog: MyHDL's expected "driven but not read" warnings go to the
conversion log, not the terminal; other warnings still show; -v shows all."""
import warnings

from myhdl import Signal, always_seq, block, intbv

from hdl.flow.build import to_verilog
from tests.hdl.helpers import make_clk_rst


@block
def unread_monitor(clk, rst, q):
    spare = Signal(intbv(0)[4:])  # driven, never read: MyHDL warns

    @always_seq(clk.posedge, reset=rst)
    def count():
        q.next = not q
        spare.next = 5 if q else 3

    return count


def test_driven_but_not_read_goes_to_the_log(tmp_path, monkeypatch):
    monkeypatch.delenv("CNN2FPGA_VERBOSE", raising=False)
    clk, rst = make_clk_rst()
    with warnings.catch_warnings(record=True) as shown:
        warnings.simplefilter("always")
        vfile = to_verilog(unread_monitor(clk, rst, Signal(bool(0))), tmp_path, "mon")
    assert vfile.is_file()
    assert not [w for w in shown if "driven but not read" in str(w.message)]
    log = (tmp_path / "mon.convert.log").read_text()
    assert "Signal is driven but not read: spare" in log


def test_verbose_shows_them(tmp_path, monkeypatch):
    monkeypatch.setenv("CNN2FPGA_VERBOSE", "1")
    clk, rst = make_clk_rst()
    with warnings.catch_warnings(record=True) as shown:
        warnings.simplefilter("always")
        to_verilog(unread_monitor(clk, rst, Signal(bool(0))), tmp_path, "mon")
    assert [w for w in shown if "driven but not read: spare" in str(w.message)]
