/* cnn2fpga: int8 CNN inference in C99, bit-exact with the project's golden model and TFLite's
 * reference kernels. No dynamic allocation, no floating point.
 *
 * The network comes from a header written by scripts/export_weights.py
 * (<model>_weights.h): int8 weights, int32 biases, per-channel multipliers and shifts, and
 * a layer table. Run it with c2f_run() on two scratch buffers of <MODEL>_BUFFER_BYTES each.
 *
 * Arithmetic per output value (TFLite ConvPerChannel / FullyConnectedPerChannel):
 *   acc = bias[o] + sum(w * (x - zp_in))                        int32, never overflows
 *   acc = MultiplyByQuantizedMultiplier(acc, M[o], shift[o])    requant C2F_GEMMLOWP
 *      or sign(acc) * ((|acc| * M[o] + 2^(n-1)) >> n), n = shift[o]   C2F_ROUND
 *   out = clamp(acc + zp_out, act_min, act_max)                 int8
 * C2F_CONV: kh x kw, strides sh x sw, padded positions (outside the input) add nothing.
 * C2F_DEPTHWISE (TFLite DepthwiseConvPerChannel): output channel o is input channel
 *   o / depth_multiplier through its own kh x kw filter; strides and padding as C2F_CONV.
 * C2F_MAXPOOL, C2F_AVGPOOL (TFLite AveragePool, int8): the kh x kw window at strides sh x sw
 *   (valid); the average is the sum of its raw int8 values divided by kh * kw rounding half
 *   away from zero, clamped to [act_min, act_max].
 * C2F_MEAN (TFLite MEAN over height and width): acc = sum(x - zp_in) over the image, then
 *   MultiplyByQuantizedMultiplier(acc, M[0], shift[0]) (s_in / s_out and the division by
 *   h * w folded into M and shift), + zp_out, clamped.
 */
#ifndef CNN2FPGA_H
#define CNN2FPGA_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum c2f_kind { C2F_MAXPOOL2X2 = 2, C2F_DENSE = 3, C2F_CONV = 4,
                C2F_MAXPOOL = 5, C2F_AVGPOOL = 6, C2F_MEAN = 7, C2F_DEPTHWISE = 8,
                C2F_ADD = 9 };
enum c2f_requant { C2F_NONE = 0, C2F_GEMMLOWP = 1, C2F_ROUND = 2, C2F_ROUND_DOUBLE = 3 };

/* One layer. Shapes are the layer's input, NHWC; dense layers have h = w = 1. */
typedef struct {
    uint8_t kind;            /* enum c2f_kind */
    uint8_t requant;         /* enum c2f_requant */
    uint16_t h, w, c_in;     /* input shape */
    uint16_t c_out;          /* output channels (maxpool: c_in) */
    int16_t zp_in, zp_out;   /* zero points */
    int16_t act_min, act_max;/* clamp after requantization (ReLU: act_min = zp_out) */
    const int8_t *weights;   /* conv: OHWI [c_out][k][k][c_in]; dense: [c_out][c_in] */
    const int32_t *bias;     /* [c_out] */
    const int64_t *multiplier; /* [c_out]: M0 (gemmlowp, 31 bits) or M (round) */
    const int8_t *shift;     /* [c_out]: TFLite shift (gemmlowp) or right shift n (round) */
    const double *scale;     /* [c_out]: C2F_ROUND_DOUBLE (a layer whose integer form needs
                              * more than 64 bits): the kernel's double s_in * s_w / s_out */
    uint8_t k, stride;       /* C2F_CONV, C2F_DEPTHWISE, the pools: window height, row step */
    uint8_t pad_top, pad_left; /* C2F_CONV, C2F_DEPTHWISE: padding rows above, columns left */
    uint16_t h_out, w_out;   /* output rows and columns */
    uint8_t kw, stride_w;    /* window width and column step */
    uint8_t depth_multiplier; /* C2F_DEPTHWISE: output channels per input channel */
    /* a network with branches (c2f_network.n_slots > 0): the scratch slots the layer reads
     * and writes (c2f_slot); C2F_ADD reads in2_slot too */
    uint8_t in_slot, out_slot, in2_slot;
    int16_t zp_in2;          /* C2F_ADD: the second input's zero point; multiplier and shift
                              * hold [input 1, input 2, output] */
} c2f_layer;

typedef struct {
    const char *name;
    uint16_t h, w, c;        /* input image */
    uint16_t n_layers;
    uint16_t n_classes;
    uint32_t buffer_bytes;   /* each of the two scratch buffers c2f_run needs */
    const int8_t *pixel_to_int8;  /* [256]: the model's input quantization */
    const c2f_layer *layers;
    /* 0: a chain, the layers in turn between the two buffers. Else the scratch slots of a
     * network with branches (a tensor kept for a later ADD), slot_bytes each: slot k is at
     * (k even ? buf_a : buf_b) + (k / 2) * slot_bytes; input_slot holds the input */
    uint8_t n_slots, input_slot;
    uint32_t slot_bytes;
} c2f_network;

/* Blocks (the hardware's, one call per image). */
void c2f_maxpool2x2(const c2f_layer *layer, const int8_t *in, int8_t *out);
void c2f_dense(const c2f_layer *layer, const int8_t *in, int8_t *out);
void c2f_conv(const c2f_layer *layer, const int8_t *in, int8_t *out);
void c2f_depthwise(const c2f_layer *layer, const int8_t *in, int8_t *out);
void c2f_maxpool(const c2f_layer *layer, const int8_t *in, int8_t *out);
void c2f_avgpool(const c2f_layer *layer, const int8_t *in, int8_t *out);
void c2f_mean(const c2f_layer *layer, const int8_t *in, int8_t *out);
void c2f_add(const c2f_layer *layer, const int8_t *in, const int8_t *in2, int8_t *out);
int c2f_argmax(const int8_t *values, int n);   /* ties to the lowest index */

/* Requantize one accumulator for output channel o of layer. */
int8_t c2f_requant(const c2f_layer *layer, int32_t acc, int o);

/* Raw pixels (h*w*c bytes, NHWC, 0..255) -> class index; the logits (n_classes int8) are
 * copied to logits when it is not NULL. buf_a and buf_b: net->buffer_bytes each. */
int c2f_run(const c2f_network *net, const uint8_t *pixels, int8_t *buf_a, int8_t *buf_b,
            int8_t *logits);

#ifdef __cplusplus
}
#endif

#endif /* CNN2FPGA_H */
