"""``python -m cnn2fpga ...``: the ``cnn2fpga`` command."""
from .cli import main

main()
