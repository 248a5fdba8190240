"""The commands' modules: one a task, each with ``main()`` (argparse, ``--help``); the
``cnn2fpga`` command (``cnn2fpga.cli``) and the ``scripts/`` shims of a checkout run them."""
