"""Board tops: each supported FPGA board's pins, clocks and displays around the camera
system (``boards``), and the 7-segment driver (``seven_seg``)."""
