"""The OV7670 camera front-end and the system around the CNN: camera configuration over SCCB
(``sccb_master``), pixel capture and frame assembly, preprocessing into the CNN's input,
the UART report and capture packets, and ``camera_system``, which joins them to the network."""
