"""The CNN accelerator: one block per layer kind (``conv2d`` with its ``pad2d`` and
``line_buffer``, ``maxpool2x2``, ``dense``, ``argmax``), the MAC engine and requantizer they
share, the beat packers between layers, the network top that wires a qnet into a dataflow chain
(``network``), and per-layer parallelism with the cycle model of the whole (``parallel``,
``config``)."""
