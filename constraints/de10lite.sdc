# Terasic DE10-Lite (10M50DAF484C7G): clocks of board_de10lite (hdl/boards.py).
# Pin assignments: de10lite.qsf (source it into the Quartus project).

create_clock -name clk50 -period 20.000 [get_ports max10_clk1_50]
# PCLK: 25 MHz at most (CAMERA=vga: PCLK = XCLK = 25 MHz); unrelated to the system clock, crossed by async_fifo.
create_clock -name cam_pclk -period 40.000 [get_ports cam_pclk]
set_clock_groups -asynchronous -group [get_clocks clk50] -group [get_clocks cam_pclk]
derive_clock_uncertainty
# buttons, LEDs, the display, the UART and the camera's control pins are slow and unrelated
set_false_path -from [get_ports key0]
set_false_path -to [get_ports {hex0[*] ledr[*] uart_tx cam_xclk cam_sioc cam_siod cam_reset_n cam_pwdn}]
set_false_path -from [get_ports {cam_siod}]
