"""The library every other block is built from: the stream interface and its handshake rule
(``stream``), memories (``ram``, ``rom``), FIFOs (``fifo``, ``bram_fifo``, ``async_fifo``), the
counters around them (``counters``: a raster position, a writer's credits), a LUT multiplier
(``softmul``), the serial line (``uart_tx``, ``uart_rx``), a button debouncer and a power-on
reset. Nothing here knows about CNNs or cameras."""
