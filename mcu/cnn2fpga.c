/* cnn2fpga: int8 CNN inference in C99 (see cnn2fpga.h). Every operation mirrors a function
 * of model/golden.py; signed shifts and int32 wrap-around are written out so the results do
 * not depend on implementation-defined behaviour. */
#include "cnn2fpga.h"

#include <stddef.h>

#define C2F_INT32_MIN (-2147483647L - 1L)
#define C2F_INT32_MAX 2147483647L

/* x wrapped to int32 (two's complement), as an int32 register would hold it */
static int32_t wrap_int32(int64_t x)
{
    uint64_t u = (uint64_t)x & 0xFFFFFFFFu;
    return u >= 0x80000000u ? (int32_t)((int64_t)u - 0x100000000LL) : (int32_t)u;
}

/* floor(x / 2^e) without shifting a negative number */
static int64_t floor_shift(int64_t x, int e)
{
    if (x >= 0)
        return x >> e;
    return -(int64_t)(((uint64_t)(-(x + 1)) >> e)) - 1;
}

/* gemmlowp SaturatingRoundingDoublingHighMul */
static int32_t srdhm(int32_t a, int32_t b)
{
    int64_t ab;
    if (a == C2F_INT32_MIN && b == C2F_INT32_MIN)
        return (int32_t)C2F_INT32_MAX;
    ab = (int64_t)a * (int64_t)b;
    /* (ab + nudge) / 2^31, truncating toward zero */
    if (ab >= 0)
        return (int32_t)((ab + (1LL << 30)) / (1LL << 31));
    return (int32_t)((ab + 1 - (1LL << 30)) / (1LL << 31));
}

/* gemmlowp RoundingDivideByPOT: x / 2^e, to nearest, ties away from zero */
static int32_t rdbpot(int32_t x, int e)
{
    int64_t q = floor_shift(x, e);
    int64_t remainder = (int64_t)x - q * ((int64_t)1 << e);
    int64_t mask = ((int64_t)1 << e) - 1;
    int64_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    return (int32_t)(q + (remainder > threshold ? 1 : 0));
}

/* The per-channel FULLY_CONNECTED kernel's requantization: round(double(acc) * scale) with C's
 * round (halves away from zero), converted to int32 as the kernel's cast does on x86: a value
 * beyond int32 gives INT32_MIN. Written without libm and without an out-of-range cast. */
static int32_t round_double(int32_t acc, double scale)
{
    double p = (double)acc * scale;
    int64_t r;
    double frac;
    if (p >= 2147483647.5 || p <= -2147483648.5)
        return (int32_t)C2F_INT32_MIN;
    r = (int64_t)p; /* toward zero; |p| < 2^31 + 1 */
    frac = p - (double)r; /* exact */
    if (frac >= 0.5)
        r += 1;
    else if (frac <= -0.5)
        r -= 1;
    return (int32_t)r;
}

int8_t c2f_requant(const c2f_layer *layer, int32_t acc, int o)
{
    int32_t scaled;
    if (layer->requant == C2F_ROUND_DOUBLE) {
        scaled = round_double(acc, layer->scale[o]);
    } else if (layer->requant == C2F_ROUND) {
        /* the integer form qnet proved equal to the double rounding (the exporter checked
         * |acc| * M + 2^(n-1) < 2^64); a result beyond int32 converts as the kernel's does */
        int shift = layer->shift[o];
        uint64_t mag = acc < 0 ? (uint64_t)(-(int64_t)acc) : (uint64_t)acc;
        mag = (mag * (uint64_t)layer->multiplier[o] + ((uint64_t)1 << (shift - 1))) >> shift;
        if (acc >= 0)
            scaled = mag > (uint64_t)C2F_INT32_MAX ? (int32_t)C2F_INT32_MIN : (int32_t)mag;
        else
            scaled = mag > (uint64_t)C2F_INT32_MAX + 1u ? (int32_t)C2F_INT32_MIN
                                                       : (int32_t)(-(int64_t)mag);
    } else {
        int shift = layer->shift[o];
        int left = shift > 0 ? shift : 0;
        int right = shift > 0 ? 0 : -shift;
        int32_t shifted = wrap_int32((int64_t)acc * ((int64_t)1 << left));
        scaled = rdbpot(srdhm(shifted, (int32_t)layer->multiplier[o]), right);
    }
    /* the kernels add the zero point in int32, which wraps */
    scaled = wrap_int32((int64_t)scaled + layer->zp_out);
    if (scaled < layer->act_min)
        scaled = layer->act_min;
    if (scaled > layer->act_max)
        scaled = layer->act_max;
    return (int8_t)scaled;
}

void c2f_maxpool2x2(const c2f_layer *layer, const int8_t *in, int8_t *out)
{
    const int w = layer->w, c_n = layer->c_in;
    int y, x, c;
    for (y = 0; y < layer->h / 2; y++) {
        for (x = 0; x < w / 2; x++) {
            const int8_t *a = in + ((size_t)(2 * y) * w + 2 * x) * c_n;
            const int8_t *b = a + (size_t)w * c_n;
            for (c = 0; c < c_n; c++) {
                int8_t m = a[c];
                if (a[c + c_n] > m) m = a[c + c_n];
                if (b[c] > m) m = b[c];
                if (b[c + c_n] > m) m = b[c + c_n];
                *out++ = m;
            }
        }
    }
}

void c2f_dense(const c2f_layer *layer, const int8_t *in, int8_t *out)
{
    const int n_in = layer->c_in, zp = layer->zp_in;
    int o, i;
    for (o = 0; o < layer->c_out; o++) {
        const int8_t *wt = layer->weights + (size_t)o * n_in;
        int32_t acc = layer->bias[o];
        for (i = 0; i < n_in; i++)
            acc += (int32_t)wt[i] * ((int32_t)in[i] - zp);
        out[o] = c2f_requant(layer, acc, o);
    }
}

void c2f_conv(const c2f_layer *layer, const int8_t *in, int8_t *out)
{
    const int h = layer->h, w = layer->w, c_in = layer->c_in, c_out = layer->c_out;
    const int kh = layer->k, kw = layer->kw, sh = layer->stride, sw = layer->stride_w;
    const int zp = layer->zp_in;
    int y, x, o, ky, kx, c;
    for (y = 0; y < layer->h_out; y++) {
        for (x = 0; x < layer->w_out; x++) {
            for (o = 0; o < c_out; o++) {
                const int8_t *wt = layer->weights + (size_t)o * kh * kw * c_in;
                int32_t acc = layer->bias[o];
                for (ky = 0; ky < kh; ky++) {
                    const int iy = y * sh + ky - layer->pad_top;
                    for (kx = 0; kx < kw; kx++, wt += c_in) {
                        const int ix = x * sw + kx - layer->pad_left;
                        const int8_t *px;
                        if (iy < 0 || iy >= h || ix < 0 || ix >= w)
                            continue;   /* padding: x = zp_in, adds nothing */
                        px = in + ((size_t)iy * w + ix) * c_in;
                        for (c = 0; c < c_in; c++)
                            acc += (int32_t)wt[c] * ((int32_t)px[c] - zp);
                    }
                }
                *out++ = c2f_requant(layer, acc, o);
            }
        }
    }
}

void c2f_depthwise(const c2f_layer *layer, const int8_t *in, int8_t *out)
{
    const int h = layer->h, w = layer->w, c_in = layer->c_in, c_out = layer->c_out;
    const int kh = layer->k, kw = layer->kw, sh = layer->stride, sw = layer->stride_w;
    const int zp = layer->zp_in, m = layer->depth_multiplier;
    int y, x, o, ky, kx;
    for (y = 0; y < layer->h_out; y++) {
        for (x = 0; x < layer->w_out; x++) {
            for (o = 0; o < c_out; o++) {
                const int8_t *wt = layer->weights + (size_t)o * kh * kw;   /* [o][ky][kx] */
                const int c = o / m;
                int32_t acc = layer->bias[o];
                for (ky = 0; ky < kh; ky++) {
                    const int iy = y * sh + ky - layer->pad_top;
                    for (kx = 0; kx < kw; kx++) {
                        const int ix = x * sw + kx - layer->pad_left;
                        if (iy < 0 || iy >= h || ix < 0 || ix >= w)
                            continue;   /* padding adds nothing */
                        acc += (int32_t)wt[ky * kw + kx] *
                               ((int32_t)in[((size_t)iy * w + ix) * c_in + c] - zp);
                    }
                }
                *out++ = c2f_requant(layer, acc, o);
            }
        }
    }
}

void c2f_maxpool(const c2f_layer *layer, const int8_t *in, int8_t *out)
{
    const int w = layer->w, c_n = layer->c_in, kh = layer->k, kw = layer->kw;
    const int sh = layer->stride, sw = layer->stride_w;
    int y, x, c, ky, kx;
    for (y = 0; y < layer->h_out; y++) {
        for (x = 0; x < layer->w_out; x++) {
            for (c = 0; c < c_n; c++) {
                int8_t m = -128;
                for (ky = 0; ky < kh; ky++)
                    for (kx = 0; kx < kw; kx++) {
                        int8_t v = in[((size_t)(y * sh + ky) * w + x * sw + kx) * c_n + c];
                        if (v > m) m = v;
                    }
                *out++ = m;
            }
        }
    }
}

void c2f_avgpool(const c2f_layer *layer, const int8_t *in, int8_t *out)
{
    const int w = layer->w, c_n = layer->c_in, kh = layer->k, kw = layer->kw;
    const int sh = layer->stride, sw = layer->stride_w, count = kh * kw;
    int y, x, c, ky, kx;
    for (y = 0; y < layer->h_out; y++) {
        for (x = 0; x < layer->w_out; x++) {
            for (c = 0; c < c_n; c++) {
                int32_t acc = 0;
                for (ky = 0; ky < kh; ky++)
                    for (kx = 0; kx < kw; kx++)
                        acc += in[((size_t)(y * sh + ky) * w + x * sw + kx) * c_n + c];
                /* to nearest, ties away from zero (C99 division truncates toward zero) */
                acc = acc > 0 ? (acc + count / 2) / count : (acc - count / 2) / count;
                if (acc < layer->act_min) acc = layer->act_min;
                if (acc > layer->act_max) acc = layer->act_max;
                *out++ = (int8_t)acc;
            }
        }
    }
}

void c2f_mean(const c2f_layer *layer, const int8_t *in, int8_t *out)
{
    const size_t n = (size_t)layer->h * layer->w;
    const int c_n = layer->c_in, zp = layer->zp_in;
    size_t i;
    int c;
    for (c = 0; c < c_n; c++) {
        int32_t acc = 0;
        for (i = 0; i < n; i++)
            acc += (int32_t)in[i * c_n + c] - zp;
        out[c] = c2f_requant(layer, acc, 0);
    }
}

/* TFLite's MultiplyByQuantizedMultiplier of int32 x */
static int32_t mbqm(int32_t x, int32_t multiplier, int shift)
{
    int left = shift > 0 ? shift : 0;
    int right = shift > 0 ? 0 : -shift;
    return rdbpot(srdhm(wrap_int32((int64_t)x * ((int64_t)1 << left)), multiplier), right);
}

/* TFLite's int8 ADD: each input (x - zp) << 20 scaled by its own multiplier, the sum (int32,
 * wrapping) by the output multiplier, + zp_out, clamped */
void c2f_add(const c2f_layer *layer, const int8_t *in, const int8_t *in2, int8_t *out)
{
    const size_t n = (size_t)layer->h * layer->w * layer->c_in;
    size_t i;
    for (i = 0; i < n; i++) {
        int32_t x1 = ((int32_t)in[i] - layer->zp_in) * (1 << 20);
        int32_t x2 = ((int32_t)in2[i] - layer->zp_in2) * (1 << 20);
        int32_t total = wrap_int32((int64_t)mbqm(x1, (int32_t)layer->multiplier[0],
                                                 layer->shift[0])
                                   + mbqm(x2, (int32_t)layer->multiplier[1], layer->shift[1]));
        int32_t scaled = wrap_int32((int64_t)mbqm(total, (int32_t)layer->multiplier[2],
                                                  layer->shift[2]) + layer->zp_out);
        if (scaled < layer->act_min)
            scaled = layer->act_min;
        if (scaled > layer->act_max)
            scaled = layer->act_max;
        out[i] = (int8_t)scaled;
    }
}

int c2f_argmax(const int8_t *values, int n)
{
    int best = 0, i;
    for (i = 1; i < n; i++)
        if (values[i] > values[best])
            best = i;
    return best;
}

static int8_t *c2f_slot(const c2f_network *net, int8_t *buf_a, int8_t *buf_b, int k)
{
    return (k % 2 == 0 ? buf_a : buf_b) + (size_t)(k / 2) * net->slot_bytes;
}

static void c2f_layer_run(const c2f_layer *layer, const int8_t *src, const int8_t *src2,
                          int8_t *dst)
{
    switch (layer->kind) {
    case C2F_MAXPOOL2X2: c2f_maxpool2x2(layer, src, dst); break;
    case C2F_CONV: c2f_conv(layer, src, dst); break;
    case C2F_DEPTHWISE: c2f_depthwise(layer, src, dst); break;
    case C2F_MAXPOOL: c2f_maxpool(layer, src, dst); break;
    case C2F_AVGPOOL: c2f_avgpool(layer, src, dst); break;
    case C2F_MEAN: c2f_mean(layer, src, dst); break;
    case C2F_ADD: c2f_add(layer, src, src2, dst); break;
    default: c2f_dense(layer, src, dst); break;
    }
}

int c2f_run(const c2f_network *net, const uint8_t *pixels, int8_t *buf_a, int8_t *buf_b,
            int8_t *logits)
{
    const size_t n_pixels = (size_t)net->h * net->w * net->c;
    int8_t *src = buf_a, *dst = buf_b, *swap;
    size_t i;
    int k;
    if (net->n_slots > 0) {  /* branches: each layer names its slots */
        int8_t *in = c2f_slot(net, buf_a, buf_b, net->input_slot);
        for (i = 0; i < n_pixels; i++)
            in[i] = net->pixel_to_int8[pixels[i]];
        for (k = 0; k < net->n_layers; k++) {
            const c2f_layer *layer = &net->layers[k];
            c2f_layer_run(layer, c2f_slot(net, buf_a, buf_b, layer->in_slot),
                          c2f_slot(net, buf_a, buf_b, layer->in2_slot),
                          c2f_slot(net, buf_a, buf_b, layer->out_slot));
        }
        src = c2f_slot(net, buf_a, buf_b, net->layers[net->n_layers - 1].out_slot);
        if (logits != NULL)
            for (k = 0; k < net->n_classes; k++)
                logits[k] = src[k];
        return c2f_argmax(src, net->n_classes);
    }
    for (i = 0; i < n_pixels; i++)
        src[i] = net->pixel_to_int8[pixels[i]];
    for (k = 0; k < net->n_layers; k++) {
        c2f_layer_run(&net->layers[k], src, 0, dst);
        swap = src;
        src = dst;
        dst = swap;
    }
    if (logits != NULL)
        for (k = 0; k < net->n_classes; k++)
            logits[k] = src[k];
    return c2f_argmax(src, net->n_classes);
}
