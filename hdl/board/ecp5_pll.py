"""ECP5 PLL (EHXPLLL) making a board's system clock from its oscillator: ``clkop`` at
``fout_hz`` from ``clkin`` at ``fin_hz``, ``locked`` once it runs.

The divider settings (``settings``) follow Lattice's ECP5 sysCLOCK PLL rules (TN1263): the
phase detector runs at fin / CLKI_DIV (3.125-400 MHz); with CLKOP fed back, CLKOP = fin *
CLKFB_DIV / CLKI_DIV; the VCO runs at CLKOP * CLKOP_DIV, which must lie in 400-800 MHz;
CLKOP_CPHASE = CLKOP_DIV / 2 - 1 as Lattice's tools (and Trellis' ``ecppll``) set it. The
search picks the exact output with the VCO nearest the middle of its range; an output no
setting makes exactly is refused. For the ULX3S: 25 MHz -> 50 MHz is CLKI_DIV 1, CLKFB_DIV 2,
CLKOP_DIV 12 (VCO 600 MHz), the same as ``ecppll -i 25 -o 50`` (tested).

The Verilog is user-defined (an EHXPLLL instance, which Yosys maps to the PLL and nextpnr
places). The MyHDL model here, and the behavioural ``EHXPLLL`` in ``cosim/ecp5_sim.v`` that the
board simulation compiles with the top, produce ``clkop`` from the measured ``clkin`` period and
raise ``locked`` after ``LOCK_CYCLES`` input clocks.
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from myhdl import block, delay, instance

VCO_HZ = (400e6, 800e6)
PFD_HZ = (3.125e6, 400e6)
LOCK_CYCLES = 16


@dataclass(frozen=True)
class Settings:
    clki_div: int
    clkfb_div: int
    clkop_div: int

    @property
    def clkop_cphase(self) -> int:
        return self.clkop_div // 2 - 1

    def out_hz(self, fin_hz: float) -> float:
        return fin_hz * self.clkfb_div / self.clki_div

    def vco_hz(self, fin_hz: float) -> float:
        return self.out_hz(fin_hz) * self.clkop_div


def settings(fin_hz: float, fout_hz: float) -> Settings:
    """The EHXPLLL dividers that make exactly ``fout_hz`` from ``fin_hz`` (module docstring)."""
    best = None
    want = Fraction(fout_hz) / Fraction(fin_hz)
    for clki in range(1, 129):
        if not PFD_HZ[0] <= fin_hz / clki <= PFD_HZ[1]:
            continue
        for clkfb in range(1, 129):
            if Fraction(clkfb, clki) != want:
                continue
            for clkop in range(1, 129):
                s = Settings(clki, clkfb, clkop)
                vco = s.vco_hz(fin_hz)
                if VCO_HZ[0] <= vco <= VCO_HZ[1]:
                    score = abs(vco - sum(VCO_HZ) / 2)
                    if best is None or score < best[0]:
                        best = (score, s)
    if best is None:
        raise ValueError(f"ecp5_pll: no EHXPLLL setting makes exactly {fout_hz / 1e6:g} MHz "
                         f"from {fin_hz / 1e6:g} MHz (VCO 400-800 MHz, dividers 1-128)")
    return best[1]


@block
def ecp5_pll(clkin, clkop, locked, *, fin_hz: float, fout_hz: float):
    s = settings(fin_hz, fout_hz)
    clki_div, clkfb_div, clkop_div, cphase = s.clki_div, s.clkfb_div, s.clkop_div, s.clkop_cphase
    fin_mhz, fout_mhz = f"{fin_hz / 1e6:g}", f"{fout_hz / 1e6:g}"
    half_ns = 1e9 / fout_hz / 2

    @instance
    def model():
        # MyHDL's time unit in the tests is 1 ns: the output's half period, rounded
        seen = 0
        while True:
            yield clkin.posedge
            seen += 1
            if seen >= LOCK_CYCLES:
                break
        locked.next = 1
        while True:
            yield delay(max(1, round(half_ns)))
            clkop.next = not clkop

    clkop.driven = "wire"
    locked.driven = "wire"
    clkin.read = True
    ecp5_pll.verilog_code = """
(* FREQUENCY_PIN_CLKI="$fin_mhz" *)
(* FREQUENCY_PIN_CLKOP="$fout_mhz" *)
EHXPLLL #(
    .PLLRST_ENA("DISABLED"), .INTFB_WAKE("DISABLED"), .STDBY_ENABLE("DISABLED"),
    .DPHASE_SOURCE("DISABLED"), .OUTDIVIDER_MUXA("DIVA"), .CLKOP_ENABLE("ENABLED"),
    .CLKI_DIV($clki_div), .CLKFB_DIV($clkfb_div), .CLKOP_DIV($clkop_div),
    .CLKOP_CPHASE($cphase), .CLKOP_FPHASE(0), .FEEDBK_PATH("CLKOP")
) ${clkop}_pll (
    .RST(1'b0), .STDBY(1'b0), .CLKI($clkin), .CLKFB($clkop), .CLKOP($clkop),
    .PHASESEL0(1'b0), .PHASESEL1(1'b0), .PHASEDIR(1'b1), .PHASESTEP(1'b1),
    .PHASELOADREG(1'b1), .PLLWAKESYNC(1'b0), .ENCLKOP(1'b0), .LOCK($locked)
);
"""
    return model
