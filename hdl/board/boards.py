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
ulx3s          ECP5 LFE5U-85F         mnist_cnn  50 MHz  8 LEDs: digit in binary, status
               (CABGA381)                        (PLL)
=============  =====================  =========  ======  ==========================================

Capture mode (``camera_system``: each frame's CNN input as a binary packet instead of the text
line) is on while the board's capture switch is on (SW0 on the DE10-Lite and the Basys3; on
the iCEBreaker the break-off PMOD's BTN1 toggles it, debounced by ``hdl.lib.debounce``) or after
the UART command ``c`` (``t`` ends it). The display shows it: the decimal point on the
7-segment boards, the red LED on the iCEBreaker, LED 6 on the ULX3S (whose FIRE1 button toggles
it like the iCEBreaker's BTN1).

Host mode (``camera_system``): every top classifies framed test images from the UART and
answers with the outputs and the chip's cycle count (``cnn2fpga board-test``).

UART: 8N1 at ``Board.baud``. A capture packet of a 28x28 image is 794 bytes = 7,940 bits; at
460,800 baud (50 MHz / 109 = 458,716, 0.45 % off) it takes 17.3 ms, inside one frame time at
30 frames/s (33.3 ms), so every frame is recorded. The iCEBreaker's 8x8 packet is 74 bytes:
6.4 ms at 115,200 baud (12 MHz / 104, 0.2 % off) against 66.7 ms a frame at 15 frames/s.

The system clock of the Basys3 top is the 100 MHz board clock divided by two in a flip-flop
(the .xdc declares it with ``create_generated_clock``). The ULX3S's system clock comes from its
25 MHz oscillator through the ECP5's PLL (``hdl.board.ecp5_pll``: 50 MHz), and the logic stays
in reset until the PLL locks. XCLK is 25 MHz on the first two boards (the system clock / 2) and
on the ULX3S (its oscillator), and the 12 MHz board clock itself on the iCEBreaker (the OV7670
takes 10-48 MHz; at 12 MHz it delivers 15 frames/s instead of 30).

Reset: the button or power-up (``hdl.lib.power_on_reset``: reset for the first ``POR_CLOCKS``
clocks after configuration).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from myhdl import (
    ResetSignal,
    Signal,
    TristateSignal,
    always,
    always_comb,
    always_seq,
    block,
    intbv,
)

from cnn2fpga import resources

from ..camera.camera_system import camera_system, port_signals
from ..lib.debounce import debounce
from ..lib.power_on_reset import power_on_reset
from .ecp5_pll import ecp5_pll
from .seven_seg import seven_seg

CONSTRAINTS = resources.folder("constraints")
POR_CLOCKS = 255
DEBOUNCE_S = 0.005   # a button must be stable this long to count


@dataclass(frozen=True)
class Board:
    name: str
    title: str
    model: str
    variant: str | None      # the model's hardware config variant (model/pretrained)
    sys_hz: float
    constraints: tuple       # files in constraints/
    baud: int                # the UART, both ways
    requant_dsp_bits: int = 0
    sim_models: tuple = ()   # simulation models of vendor primitives (cosim/), not for synthesis
    xclk_hz: float = 25e6    # the camera's input clock

    def camera(self, geo) -> "CameraTiming":
        """The frame timing of the OV7670 at ``geo``'s size on this board, or ValueError when
        the board cannot take it (``CameraTiming``)."""
        return camera_timing(self, geo)

    @property
    def top(self) -> str:
        return f"board_{self.name}"

    @property
    def constraint_paths(self) -> list[Path]:
        return [CONSTRAINTS / name for name in self.constraints]


BOARDS = {
    "de10lite": Board("de10lite", "Terasic DE10-Lite (MAX10)", "mnist_cnn", None, 50e6,
                      ("de10lite.sdc", "de10lite.qsf"), 460800),
    "basys3": Board("basys3", "Digilent Basys3 (Artix-7 35T)", "mnist_cnn", None, 50e6,
                    ("basys3.xdc",), 460800),
    "icebreaker": Board("icebreaker", "1BitSquared iCEBreaker (iCE40 UP5K)", "digits_cnn",
                        "icebreaker", 12e6, ("icebreaker.pcf",), 115200, requant_dsp_bits=16,
                        xclk_hz=12e6),
    "ulx3s": Board("ulx3s", "Radiona ULX3S (ECP5 LFE5U-85F)", "mnist_cnn", None, 50e6,
                   ("ulx3s.lpf",), 460800, sim_models=("ecp5_sim.v",)),
}
ULX3S_OSC_HZ = 25e6

# The OV7670's frame, whatever the output size: 784 x 510 pixel periods of its internal VGA
# timing, two PCLKs a pixel at VGA, one XCLK a PCLK (datasheet: 30 frames/s from 24 MHz). The
# scaled sizes divide PCLK (COM14), so the frame rate stays the same.
SENSOR_LINE, SENSOR_LINES = 784, 510
MIN_CLOCKS_PER_WORD = 2   # system clocks per capture word the clock crossing is checked at


@dataclass(frozen=True)
class CameraTiming:
    """One resolution on one board: the seed's frame-timing arithmetic."""
    width: int
    height: int
    pclk_hz: float            # the camera's byte clock
    fps: float                # frames a second
    pclk_per_frame: int       # camera clocks a frame (with blanking)
    sys_per_frame: float      # system clocks a frame
    sys_per_word: float       # system clocks between two pixels (words) on a line

    @property
    def pixels(self) -> int:
        return self.width * self.height


def camera_timing(board: Board, geo) -> CameraTiming:
    """The frame timing of ``geo``'s frame size on ``board`` (XCLK ``board.xclk_hz``, system
    clock ``board.sys_hz``). Refused (ValueError naming the figures) when the system clock
    cannot take the capture words: the clock crossing and the frame assembler take one word a
    clock and are checked at no less than ``MIN_CLOCKS_PER_WORD`` clocks a word."""
    from ..camera.sccb_master import ov7670_table

    try:
        ratio = ov7670_table(geo.width, geo.height)[1]
    except ValueError as exc:
        raise ValueError(f"{board.name}: {exc}") from None
    pclk = board.xclk_hz * ratio
    per_frame = int(SENSOR_LINE * SENSOR_LINES * 2 * ratio)
    fps = pclk / per_frame
    per_word = 2 * board.sys_hz / pclk
    if per_word < MIN_CLOCKS_PER_WORD:
        raise ValueError(f"{board.name}: at {geo.width}x{geo.height} the camera sends a pixel "
                         f"every {per_word:.2f} system clocks (PCLK {pclk / 1e6:g} MHz, system "
                         f"clock {board.sys_hz / 1e6:g} MHz); the front-end needs at least "
                         f"{MIN_CLOCKS_PER_WORD}: choose a smaller CAMERA size")
    return CameraTiming(geo.width, geo.height, pclk, fps, per_frame,
                        board.sys_hz / fps, per_word)


def get(name: str) -> Board:
    try:
        return BOARDS[name]
    except KeyError:
        raise ValueError(f"unknown board {name!r}; boards: {', '.join(BOARDS)}") from None


@block
def board_core(clk, button, rx, capture_in, cam_pclk, cam_vsync, cam_href, cam_d, cam_sioc,
               cam_siod, cam_reset_n, cam_pwdn, sig: dict, rst=None, **system):
    """Reset (button through two flops, and power-up), camera_system, the camera's control
    pins. ``button`` is active high here; ``sig`` holds camera_system's output signals;
    ``rst``: the reset it makes (a new one when None)."""
    rst = rst if rst is not None else ResetSignal(1, active=1, isasync=False)
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

    sys_inst = camera_system(clk, rst, cam_pclk, cam_vsync, cam_href, cam_d, rx, capture_in,
                             **sig, **system)
    return por, camera_pins, sys_inst


@block
def press_toggle(clk, rst, button, toggled, *, clk_hz: float):
    """``toggled`` flips on each press of ``button`` (active high, bouncing): the capture
    switch of the boards that have only a push button (iCEBreaker BTN1, ULX3S FIRE1)."""
    pressed, pressed_q = Signal(bool(0)), Signal(bool(0))
    clean = debounce(clk, rst, button, pressed, clocks=int(clk_hz * DEBOUNCE_S))

    @always_seq(clk.posedge, reset=rst)
    def flip():
        pressed_q.next = pressed
        if pressed and not pressed_q:
            toggled.next = not toggled

    return clean, flip


def _camera_ports() -> dict:
    b = lambda: Signal(bool(0))  # noqa: E731
    return dict(cam_pclk=b(), cam_vsync=b(), cam_href=b(), cam_d=Signal(intbv(0)[8:]),
                cam_xclk=b(), cam_sioc=b(), cam_siod=TristateSignal(bool(0)),
                cam_reset_n=b(), cam_pwdn=b())


@block
def board_de10lite(max10_clk1_50, key0, sw0, hex0, ledr, uart_tx, uart_rx, cam_pclk, cam_vsync,
                   cam_href, cam_d, cam_xclk, cam_sioc, cam_siod, cam_reset_n, cam_pwdn,
                   **system):
    """KEY0 (active low) resets; SW0 up: capture mode; HEX0 (active low, bit 7 = DP) shows
    the digit, the DP capture mode; LEDR[7:0] the bad-frame count, LEDR[8] a digit shown,
    LEDR[9] the camera configured; uart_tx and uart_rx on GPIO[17] and GPIO[16] for a 3.3 V
    USB-serial adapter."""
    sig = port_signals(4)
    digit, have_digit, bad, ready, line = (sig[k] for k in ("digit", "have_digit", "bad_frames",
                                                            "cam_ready", "tx"))
    button, xclk = Signal(bool(0)), Signal(bool(0))
    seg = Signal(intbv(0)[7:])
    core = board_core(max10_clk1_50, button, uart_rx, sw0, cam_pclk, cam_vsync, cam_href, cam_d,
                      cam_sioc, cam_siod, cam_reset_n, cam_pwdn, sig, **system)
    display = seven_seg(digit, have_digit, seg)
    capture_on = sig["capture_on"]

    @always(max10_clk1_50.posedge)
    def xclk_div():
        xclk.next = not xclk

    @always_comb
    def outputs():
        button.next = not key0
        cam_xclk.next = xclk
        hex0.next = (~seg & 0x7F) | ((not capture_on) << 7)  # active low: DP lit = capture
        ledr.next = (ready << 9) | (have_digit << 8) | bad
        uart_tx.next = line

    return core, display, xclk_div, outputs


@block
def board_basys3(clk, btnc, sw0, seg, dp, an, led, rstx, rsrx, cam_pclk, cam_vsync, cam_href,
                 cam_d, cam_xclk, cam_sioc, cam_siod, cam_reset_n, cam_pwdn, **system):
    """btnC resets; SW0 up: capture mode; the rightmost digit of the display shows the result
    (active low), its decimal point capture mode; led[7:0] the bad-frame count, led[8] camera
    configured, led[9] a digit shown, led[10] CDC overrun, led[11] CNN busy, led[15:12]
    dropped frames (low bits); RsTx/RsRx the USB-UART."""
    sig = port_signals(4)
    digit, have_digit, bad, ready, line = (sig[k] for k in ("digit", "have_digit", "bad_frames",
                                                            "cam_ready", "tx"))
    dropped, busy, overrun = sig["dropped"], sig["cnn_busy"], sig["overrun"]
    clk_sys, xclk = Signal(bool(0)), Signal(bool(0))
    segs = Signal(intbv(0)[7:])
    core = board_core(clk_sys, btnc, rsrx, sw0, cam_pclk, cam_vsync, cam_href, cam_d, cam_sioc,
                      cam_siod, cam_reset_n, cam_pwdn, sig, **system)
    display = seven_seg(digit, have_digit, segs)
    capture_on = sig["capture_on"]

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
        dp.next = not capture_on
        an.next = 0b1110
        led.next = ((dropped[4:0] << 12) | (busy << 11) | (overrun << 10) | (have_digit << 9)
                    | (ready << 8) | bad)
        rstx.next = line

    return core, display, divide, xclk_div, outputs


@block
def board_icebreaker(clk_12mhz, btn_n, btn1, ledr_n, ledg_n, led, tx, rx, cam_pclk, cam_vsync,
                     cam_href, cam_d, cam_xclk, cam_sioc, cam_siod, cam_reset_n, cam_pwdn,
                     **system):
    """BTN_N resets; the break-off PMOD's BTN1 toggles capture mode (debounced); its LED1-4
    show the digit in binary (LED1 = bit 0), LED5 a digit shown; the green LED the camera
    configured, the red one capture mode; tx and rx go to the FTDI's second channel (the
    board's USB serial port)."""
    sig = port_signals(4)
    digit, have_digit, ready, line = (sig[k] for k in ("digit", "have_digit", "cam_ready", "tx"))
    capture_on = sig["capture_on"]
    button, toggled = Signal(bool(0)), Signal(bool(0))
    rst = ResetSignal(1, active=1, isasync=False)
    core = board_core(clk_12mhz, button, rx, toggled, cam_pclk, cam_vsync, cam_href, cam_d,
                      cam_sioc, cam_siod, cam_reset_n, cam_pwdn, sig, rst=rst, **system)
    toggle = press_toggle(clk_12mhz, rst, btn1, toggled, clk_hz=system["clk_hz"])

    @always_comb
    def outputs():
        button.next = not btn_n
        cam_xclk.next = clk_12mhz
        led.next = (have_digit << 4) | digit
        ledg_n.next = not ready
        ledr_n.next = not capture_on
        tx.next = line

    return core, toggle, outputs


@block
def board_ulx3s(clk_25mhz, btn_fire1, btn_fire2, led, ftdi_rxd, ftdi_txd, cam_pclk, cam_vsync,
                cam_href, cam_d, cam_xclk, cam_sioc, cam_siod, cam_reset_n, cam_pwdn, **system):
    """FIRE2 resets (and the logic waits for the PLL to lock); FIRE1 toggles capture mode
    (debounced); led[3:0] the digit in binary, led[4] a digit shown, led[5] the camera
    configured, led[6] capture mode, led[7] the PLL locked; ftdi_rxd/ftdi_txd the FTDI's UART
    (the board's USB port). The 25 MHz oscillator drives the PLL (50 MHz system clock) and
    XCLK."""
    sig = port_signals(4)
    digit, have_digit, ready, line = (sig[k] for k in ("digit", "have_digit", "cam_ready", "tx"))
    capture_on = sig["capture_on"]
    clk_sys, locked = Signal(bool(0)), Signal(bool(0))
    button, toggled = Signal(bool(0)), Signal(bool(0))
    rst = ResetSignal(1, active=1, isasync=False)
    pll = ecp5_pll(clk_25mhz, clk_sys, locked, fin_hz=ULX3S_OSC_HZ, fout_hz=system["clk_hz"])
    core = board_core(clk_sys, button, ftdi_txd, toggled, cam_pclk, cam_vsync, cam_href, cam_d,
                      cam_sioc, cam_siod, cam_reset_n, cam_pwdn, sig, rst=rst, **system)
    toggle = press_toggle(clk_sys, rst, btn_fire1, toggled, clk_hz=system["clk_hz"])

    @always_comb
    def outputs():
        button.next = btn_fire2 or not locked
        cam_xclk.next = clk_25mhz
        led.next = (locked << 7) | (capture_on << 6) | (ready << 5) | (have_digit << 4) | digit
        ftdi_rxd.next = line

    return pll, core, toggle, outputs


def ports(board: Board) -> dict:
    """The board top's ports as signals (names as in the Verilog and the constraints)."""
    b = lambda: Signal(bool(0))  # noqa: E731
    cam = _camera_ports()
    if board.name == "de10lite":
        return dict(max10_clk1_50=b(), key0=b(), sw0=b(), hex0=Signal(intbv(0)[8:]),
                    ledr=Signal(intbv(0)[10:]), uart_tx=b(), uart_rx=b(), **cam)
    if board.name == "basys3":
        return dict(clk=b(), btnc=b(), sw0=b(), seg=Signal(intbv(0)[7:]), dp=b(),
                    an=Signal(intbv(0)[4:]), led=Signal(intbv(0)[16:]), rstx=b(), rsrx=b(),
                    **cam)
    if board.name == "ulx3s":
        return dict(clk_25mhz=b(), btn_fire1=b(), btn_fire2=b(), led=Signal(intbv(0)[8:]),
                    ftdi_rxd=b(), ftdi_txd=b(), **cam)
    return dict(clk_12mhz=b(), btn_n=b(), btn1=b(), ledr_n=b(), ledg_n=b(),
                led=Signal(intbv(0)[5:]), tx=b(), rx=b(), **cam)


TOPS = {"de10lite": board_de10lite, "basys3": board_basys3, "icebreaker": board_icebreaker,
        "ulx3s": board_ulx3s}


def pclk_constraint_mhz(board) -> float | None:
    """The camera clock (cam_pclk) the board's constraints file constrains, in MHz: what the
    timing of the camera side is checked against (one file for every camera size, so the
    fastest, VGA's); None when the file names none."""
    import re

    patterns = (r"set_frequency\s+cam_pclk\s+([0-9.]+)", r'FREQUENCY\s+PORT\s+"cam_pclk"\s+([0-9.]+)',
                r"create_clock\s+-name\s+cam_pclk\s+-period\s+([0-9.]+)")
    for path in board.constraint_paths:
        text = Path(path).read_text()
        for k, pattern in enumerate(patterns):
            found = re.search(pattern, text)
            if found:
                value = float(found.group(1))
                return 1e3 / value if k == 2 else value
    return None
