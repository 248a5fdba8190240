"""Board tops: ``camera_system`` wired to a real board's pins (``make verilog BOARD=...``).

Every board top has the same camera port names (the OV7670 module's pins): ``cam_pclk``,
``cam_vsync``, ``cam_href``, ``cam_d[7:0]`` in; ``cam_xclk`` (the sensor's input clock),
``cam_sioc``, ``cam_siod`` (bidirectional, released when not driven: the constraints turn on
the pin's pull-up), ``cam_reset_n`` (held high) and ``cam_pwdn`` (held low) out. Each board
adds its clock, a reset button, the UART pin and its display; ``constraints/<board>.*`` names
exactly these ports.

=============  =====================  =========  ======  ==========================================
board          FPGA                   model      clock   display
=============  =====================  =========  ======  ==========================================
de10lite       MAX10 10M50DAF484C7G   mnist_cnn  50 MHz  HEX0 digit, LEDR bad-frame count, status
basys3         Artix-7 xc7a35t        mnist_cnn  50 MHz  rightmost digit, LEDs status
                                                 (100/2)
icebreaker     iCE40 UP5K (SG48)      digits_cnn 12 MHz  break-off PMOD LEDs: digit in binary
=============  =====================  =========  ======  ==========================================

The system clock of the Basys3 top is the 100 MHz board clock divided by two in a flip-flop
(the .xdc declares it with ``create_generated_clock``). XCLK is 25 MHz on the first two boards
(the system clock / 2) and the 12 MHz board clock itself on the iCEBreaker (the OV7670 takes
10-48 MHz; at 12 MHz it delivers 15 frames/s instead of 30).

Reset: the button or power-up (``hdl.power_on_reset``: reset for the first ``POR_CLOCKS``
clocks after configuration).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from myhdl import ResetSignal, Signal, TristateSignal, always, always_comb, block, intbv

from .camera_system import camera_system, port_signals
from .power_on_reset import power_on_reset
from .seven_seg import seven_seg

CONSTRAINTS = Path(__file__).resolve().parents[1] / "constraints"
POR_CLOCKS = 255
BAUD = 115200


@dataclass(frozen=True)
class Board:
    name: str
    title: str
    model: str
    variant: str | None      # the model's hardware config variant (model/pretrained)
    sys_hz: float
    constraints: tuple       # files in constraints/
    requant_dsp_bits: int = 0

    @property
    def top(self) -> str:
        return f"board_{self.name}"

    @property
    def constraint_paths(self) -> list[Path]:
        return [CONSTRAINTS / name for name in self.constraints]


BOARDS = {
    "de10lite": Board("de10lite", "Terasic DE10-Lite (MAX10)", "mnist_cnn", None, 50e6,
                      ("de10lite.sdc", "de10lite.qsf")),
    "basys3": Board("basys3", "Digilent Basys3 (Artix-7 35T)", "mnist_cnn", None, 50e6,
                    ("basys3.xdc",)),
    "icebreaker": Board("icebreaker", "1BitSquared iCEBreaker (iCE40 UP5K)", "digits_cnn",
                        "up5k", 12e6, ("icebreaker.pcf",), requant_dsp_bits=16),
}


def get(name: str) -> Board:
    try:
        return BOARDS[name]
    except KeyError:
        raise ValueError(f"unknown board {name!r}; boards: {', '.join(BOARDS)}") from None


@block
def board_core(clk, button, cam_pclk, cam_vsync, cam_href, cam_d, cam_sioc, cam_siod,
               cam_reset_n, cam_pwdn, sig: dict, **system):
    """Reset (button through two flops, and power-up), camera_system, the camera's control
    pins. ``button`` is active high here; ``sig`` holds camera_system's output signals."""
    rst = ResetSignal(1, active=1, isasync=False)
    por = power_on_reset(clk, button, rst, clocks=POR_CLOCKS)
    siod = cam_siod.driver()
    sio_c, sio_d_out, sio_d_oe = sig["sio_c"], sig["sio_d_out"], sig["sio_d_oe"]

    @always_comb
    def camera_pins():
        cam_sioc.next = sio_c
        cam_reset_n.next = 1
        cam_pwdn.next = 0
        if sio_d_oe:
            siod.next = sio_d_out
        else:
            siod.next = None

    sys_inst = camera_system(clk, rst, cam_pclk, cam_vsync, cam_href, cam_d, **sig, **system)
    return por, camera_pins, sys_inst


def _camera_ports() -> dict:
    b = lambda: Signal(bool(0))  # noqa: E731
    return dict(cam_pclk=b(), cam_vsync=b(), cam_href=b(), cam_d=Signal(intbv(0)[8:]),
                cam_xclk=b(), cam_sioc=b(), cam_siod=TristateSignal(bool(0)),
                cam_reset_n=b(), cam_pwdn=b())


@block
def board_de10lite(max10_clk1_50, key0, hex0, ledr, uart_tx, cam_pclk, cam_vsync, cam_href,
                   cam_d, cam_xclk, cam_sioc, cam_siod, cam_reset_n, cam_pwdn, **system):
    """KEY0 (active low) resets; HEX0 (active low, bit 7 = DP) shows the digit; LEDR[7:0] the
    bad-frame count, LEDR[8] a digit shown, LEDR[9] the camera configured; uart_tx on the
    Arduino header's D1 for a 3.3 V USB-serial adapter."""
    sig = port_signals(4)
    digit, have_digit, bad, ready, line = (sig[k] for k in ("digit", "have_digit", "bad_frames",
                                                            "cam_ready", "tx"))
    button, xclk = Signal(bool(0)), Signal(bool(0))
    seg = Signal(intbv(0)[7:])
    core = board_core(max10_clk1_50, button, cam_pclk, cam_vsync, cam_href, cam_d, cam_sioc,
                      cam_siod, cam_reset_n, cam_pwdn, sig, **system)
    display = seven_seg(digit, have_digit, seg)

    @always(max10_clk1_50.posedge)
    def xclk_div():
        xclk.next = not xclk

    @always_comb
    def outputs():
        button.next = not key0
        cam_xclk.next = xclk
        hex0.next = (~seg & 0x7F) | 0x80  # active low: bit 7 high keeps the DP off
        ledr.next = (ready << 9) | (have_digit << 8) | bad
        uart_tx.next = line

    return core, display, xclk_div, outputs


@block
def board_basys3(clk, btnc, seg, dp, an, led, rstx, cam_pclk, cam_vsync, cam_href, cam_d,
                 cam_xclk, cam_sioc, cam_siod, cam_reset_n, cam_pwdn, **system):
    """btnC resets; the rightmost digit of the display shows the result (active low); led[7:0]
    the bad-frame count, led[8] camera configured, led[9] a digit shown, led[10] CDC overrun,
    led[11] CNN busy, led[15:12] dropped frames (low bits); RsTx the text lines."""
    sig = port_signals(4)
    digit, have_digit, bad, ready, line = (sig[k] for k in ("digit", "have_digit", "bad_frames",
                                                            "cam_ready", "tx"))
    dropped, busy, overrun = sig["dropped"], sig["cnn_busy"], sig["overrun"]
    clk_sys, xclk = Signal(bool(0)), Signal(bool(0))
    segs = Signal(intbv(0)[7:])
    core = board_core(clk_sys, btnc, cam_pclk, cam_vsync, cam_href, cam_d, cam_sioc, cam_siod,
                      cam_reset_n, cam_pwdn, sig, **system)
    display = seven_seg(digit, have_digit, segs)

    @always(clk.posedge)
    def divide():
        clk_sys.next = not clk_sys

    @always(clk_sys.posedge)
    def xclk_div():
        xclk.next = not xclk

    @always_comb
    def outputs():
        cam_xclk.next = xclk
        seg.next = ~segs & 0x7F
        dp.next = 1
        an.next = 0b1110
        led.next = ((dropped[4:0] << 12) | (busy << 11) | (overrun << 10) | (have_digit << 9)
                    | (ready << 8) | bad)
        rstx.next = line

    return core, display, divide, xclk_div, outputs


@block
def board_icebreaker(clk_12mhz, btn_n, ledr_n, ledg_n, led, tx, cam_pclk, cam_vsync, cam_href,
                     cam_d, cam_xclk, cam_sioc, cam_siod, cam_reset_n, cam_pwdn, **system):
    """BTN_N resets; the break-off PMOD's LED1-4 show the digit in binary (LED1 = bit 0),
    LED5 a digit shown; the green LED the camera configured, the red one a bad frame seen;
    tx goes to the FTDI's second channel (the board's USB serial port)."""
    sig = port_signals(4)
    digit, have_digit, bad, ready, line = (sig[k] for k in ("digit", "have_digit", "bad_frames",
                                                            "cam_ready", "tx"))
    button = Signal(bool(0))
    core = board_core(clk_12mhz, button, cam_pclk, cam_vsync, cam_href, cam_d, cam_sioc,
                      cam_siod, cam_reset_n, cam_pwdn, sig, **system)

    @always_comb
    def outputs():
        button.next = not btn_n
        cam_xclk.next = clk_12mhz
        led.next = (have_digit << 4) | digit
        ledg_n.next = not ready
        ledr_n.next = bad == 0
        tx.next = line

    return core, outputs


def ports(board: Board) -> dict:
    """The board top's ports as signals (names as in the Verilog and the constraints)."""
    b = lambda: Signal(bool(0))  # noqa: E731
    cam = _camera_ports()
    if board.name == "de10lite":
        return dict(max10_clk1_50=b(), key0=b(), hex0=Signal(intbv(0)[8:]),
                    ledr=Signal(intbv(0)[10:]), uart_tx=b(), **cam)
    if board.name == "basys3":
        return dict(clk=b(), btnc=b(), seg=Signal(intbv(0)[7:]), dp=b(),
                    an=Signal(intbv(0)[4:]), led=Signal(intbv(0)[16:]), rstx=b(), **cam)
    return dict(clk_12mhz=b(), btn_n=b(), ledr_n=b(), ledg_n=b(), led=Signal(intbv(0)[5:]),
                tx=b(), **cam)


TOPS = {"de10lite": board_de10lite, "basys3": board_basys3, "icebreaker": board_icebreaker}
