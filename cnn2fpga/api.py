"""The Python API: a model to its accelerator and back, for notebooks and scripts.

    import cnn2fpga
    net = cnn2fpga.load("digits_cnn")                 # a preset, a .tflite or a .keras
    logits = net.golden(images)                       # uint8 images -> int8 outputs
    hw = net.hardware(auto_budget=16)                 # or par=..., device="ecp5-85f"
    hw.write_verilog("build/digits/verilog")
    sim = hw.simulate(images)                         # Verilator
    assert (sim.logits == logits).all()
    hw.synth(target="ice40")                          # resources, fmax, critical path

It is the code the commands run: ``load`` resolves a model as ``--model`` does
(``model.source``), ``hardware`` picks a config as ``make verilog``'s flags do
(``cnn2fpga.commands.make_verilog.choose_config``), ``simulate`` builds and runs what ``make cosim``
runs (``cosim.network_sim``), ``synth`` runs ``make synth``'s flow (``hdl.flow.synth``).
"""
from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np


def load(model, *, dataset: str | None = None, pixel_max: float | None = None,
         pixel_offset: float | None = None) -> "Network":
    """A network from ``model``: a preset name ("mnist_cnn", "digits_cnn"), an int8 ``.tflite``
    or a ``.keras`` file (converted to int8 with ``dataset``'s training images). The input
    mapping (the model's float input is ``pixel / pixel_max + pixel_offset``) is the preset's
    or read from the file, as on the command line."""
    from model import source

    src = source.resolve(str(model), dataset=dataset, pixel_max=pixel_max,
                         pixel_offset=pixel_offset, hardware=False)
    return Network(src)


class Network:
    """A quantized network (``model.qnet``) and how its input maps from 8-bit pixels."""

    def __init__(self, src):
        self.source = src
        self.qnet = src.load_net(hardware=False)

    @property
    def name(self) -> str:
        return self.qnet.name

    @property
    def input_shape(self) -> tuple:
        return tuple(self.qnet.input_shape)

    def __repr__(self) -> str:
        return (f"<cnn2fpga.Network {self.name}: {len(self.qnet.layers)} layers, input "
                f"{self.input_shape}, {self.qnet.macs:,} MACs>")

    def batch(self, images) -> np.ndarray:
        """``images`` as a batch of uint8 pixels of the input shape: one image or a batch,
        H x W or H x W x C (a vector: N values)."""
        x = np.asarray(images)
        if x.dtype != np.uint8:
            raise ValueError(f"images are {x.dtype}: uint8 pixels (or 8-bit codes) are taken, "
                             f"as the dataset holds them")
        size = int(np.prod(self.input_shape))
        if x.size % size or x.ndim == 0:
            raise ValueError(f"images of shape {x.shape} do not hold whole inputs of "
                             f"{self.input_shape}")
        return x.reshape((-1,) + self.input_shape)

    def golden(self, images) -> np.ndarray:
        """The int8 output tensors (N, outputs) the golden model (LiteRT's reference kernels'
        arithmetic) computes for ``images`` (uint8 pixels, ``batch``)."""
        from model import golden

        x = self.batch(images)
        return golden.run_network(self.qnet, self.qnet.quantize_input(
            self.source.to_float(x))).logits

    def classify(self, images) -> np.ndarray:
        """The class index of each image (the argmax of ``golden``; ties to the lowest)."""
        return np.argmax(self.golden(images), axis=-1)

    def hardware(self, *, par=None, auto_budget: int | None = None,
                 auto_ips: float | None = None, clock_mhz: float = 50.0,
                 config=None, device: str | None = None,
                 smallest: bool = False) -> "Accelerator":
        """The accelerator for a config, chosen as ``make verilog``'s flags choose it:
        ``par`` ({layer: "PExSIMD[xT]"} or ["conv2=8x4", ...]), ``auto_budget`` (the fastest
        within N multipliers), ``auto_ips`` (the smallest reaching R images/s at
        ``clock_mhz``), ``config`` (a .hw.json file), ``device`` ("ecp5-85f", "xc7a35t",
        "up5k": the fastest that fits it, or the config given, refused when it does not fit),
        ``smallest`` (one multiplier a layer); none: the preset's config, else the fastest
        that fits the ECP5-85F."""
        from model import qnet
        from cnn2fpga.commands.make_verilog import choose_config

        qnet.check_hardware(self.qnet, self.source.label or None)
        if isinstance(par, dict):
            par = [f"{k}={v}" for k, v in par.items()]
        conf = choose_config(self.qnet, self.source, par=par, auto_budget=auto_budget,
                             auto_ips=auto_ips, clock_mhz=clock_mhz, config=config,
                             device=device, smallest=smallest)
        return Accelerator(self, conf)


@dataclass
class Simulation:
    """What a Verilator run of the accelerator measured."""
    logits: np.ndarray            # (images, outputs) int8, every value the top streamed out
    classes: np.ndarray           # (images,) the top's class indices
    latency_cycles: int           # first pixel to class index, the pipe empty
    interval_cycles: float | None  # clocks per image back to back (None under 3 images)
    cycles: int                   # clocks simulated
    seconds: float


class Accelerator:
    """A network in hardware: a config of the blocks (PE x SIMD x taps a layer)."""

    def __init__(self, network: Network, config: dict):
        self.network = network
        self.config = config
        self._verilog: Path | None = None
        self._scratch = None

    def __repr__(self) -> str:
        return (f"<cnn2fpga.Accelerator {self.network.name}: {self.multipliers} multipliers, "
                f"interval {self.interval_cycles:,} clocks, latency {self.latency_cycles:,}>")

    @property
    def multipliers(self) -> int:
        from hdl.cnn import config as cfg

        return cfg.multipliers(self.config)

    @property
    def interval_cycles(self) -> int:
        """The cycle model's clocks per image, back to back."""
        from hdl.cnn import config as cfg

        return cfg.interval(self.network.qnet, self.config)

    @property
    def latency_cycles(self) -> int:
        """The cycle model's clocks from an image's first pixel to its class, pipe empty."""
        from hdl.cnn import config as cfg

        return cfg.latency(self.network.qnet, self.config)

    def write_verilog(self, folder) -> Path:
        """The accelerator as Verilog with its .mem files into ``folder`` (what ``make
        verilog`` writes); returns the top's .v."""
        from hdl.flow import build

        src = self.network.source
        top = build.build(self.network.qnet, self.config, Path(folder), src.input_max, 0,
                          src.input_offset, notes={"chosen_by": "the Python API"})
        self._verilog = top
        return top

    def _built(self) -> Path:
        if self._verilog is None or not self._verilog.is_file():
            self._scratch = tempfile.TemporaryDirectory(prefix="cnn2fpga-")
            self.write_verilog(Path(self._scratch.name) / "verilog")
        return self._verilog

    def simulate(self, images, run_dir=None) -> Simulation:
        """Run ``images`` (uint8 pixels) through the Verilog in Verilator (the folder of the
        last ``write_verilog``, else one built in a scratch folder); ``run_dir`` keeps the
        run's files."""
        from cosim import network_sim as ns

        x = self.network.batch(images)
        top = self._built()
        keep = tempfile.TemporaryDirectory(prefix="cnn2fpga-run-") if run_dir is None else None
        run = Path(run_dir) if run_dir is not None else Path(keep.name)
        try:
            n_out = self.network.qnet.logits_layer.c_out
            ns.prepare(run, top.parent, top.stem, x.reshape(len(x), -1), n_out)
            result = ns.run_verilator(run, top.stem, n_out, total=len(x))
        finally:
            if keep is not None:
                keep.cleanup()
        interval = None if result.interval != result.interval else result.interval
        return Simulation(result.logits, result.classes, result.latency, interval,
                          result.cycles, result.seconds)

    def synth(self, target: str = "ecp5", folder=None, *, seed: int = 1,
              freq_mhz: float | None = None) -> dict:
        """Yosys, and for ``ecp5`` and ``ice40`` nextpnr, on the Verilog (``make synth``'s
        flow): returns {"device", "resources", "fit", "over", "fmax_mhz", "critical_path"}
        (fmax None where there is no open place and route: xilinx)."""
        from hdl.flow import synth

        if target not in synth.DEVICES:
            raise ValueError(f"target {target!r}: one of {', '.join(synth.DEVICES)}")
        top = self._built()
        out = Path(folder) if folder is not None else top.parent.parent / f"synth_{target}"
        out.mkdir(parents=True, exist_ok=True)
        flow = synth.run_flow(top, target, out, freq_mhz=freq_mhz or synth.FREQ_MHZ[target],
                              seed=seed, progress=False)
        pnr = flow["pnr"] or {}
        return {"device": flow["device"], "resources": flow["resources"], "fit": flow["fit"],
                "over": flow["over"], "fmax_mhz": pnr.get("fmax_mhz"),
                "critical_path": pnr.get("critical_path", [])}
