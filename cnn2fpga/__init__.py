"""cnn2fpga: a convolutional network from Keras to an FPGA, bit for bit.

The Python API (``cnn2fpga.api``): ``load`` a model, compute its ``golden`` outputs, pick its
``hardware`` config, ``write_verilog``, ``simulate`` in Verilator, ``synth`` with the open
flow. The ``cnn2fpga`` command (``cnn2fpga.cli``) runs the same code from a shell.
"""
from .api import Accelerator, Network, Simulation, load

__all__ = ["Accelerator", "Network", "Simulation", "load"]
