"""Model side of cnn2fpga: data, presets, training, TFLite int8 conversion, qnet, golden model."""
