/* Host runner for cnn2fpga's C inference: classifies raw images from a file, writes every
 * image's int8 logits to another. Used by the tests and scripts/mcu_report.py.
 *
 *   gcc -std=c99 -O2 -I mcu -I build/<model>/export -DC2F_MODEL=<model> \
 *       mcu/cnn2fpga.c mcu/host/c2f_host.c -o c2f_host
 *   ./c2f_host images.u8 logits.i8     (images: N x pixels bytes; logits: N x classes bytes)
 */
#include <stdio.h>
#include <stdlib.h>

#include "cnn2fpga.h"

#ifndef C2F_MODEL
#error "define C2F_MODEL to the model name, e.g. -DC2F_MODEL=mnist_cnn"
#endif
#define C2F_CAT(a, b) a##b
#define C2F_XCAT(a, b) C2F_CAT(a, b)
#define C2F_STR(a) #a
#define C2F_XSTR(a) C2F_STR(a)
#include C2F_XSTR(C2F_XCAT(C2F_MODEL, _weights.h))

#define NET C2F_XCAT(C2F_MODEL, _net)

static int8_t buf_a[65536 * 4], buf_b[65536 * 4];

int main(int argc, char **argv)
{
    const c2f_network *net = &NET;
    size_t pixels = (size_t)net->h * net->w * net->c, n = 0;
    unsigned char *image;
    /* the whole output tensor (an autoencoder's 640 values); n_classes is 16 bits */
    static int8_t logits[65536];
    FILE *in, *out;
    if (argc != 3) {
        fprintf(stderr, "usage: %s IMAGES LOGITS (raw uint8 images in, int8 logits out)\n",
                argv[0]);
        return 2;
    }
    if (net->buffer_bytes > sizeof buf_a) {
        fprintf(stderr, "%s needs %lu-byte buffers, this runner has %lu\n", net->name,
                (unsigned long)net->buffer_bytes, (unsigned long)sizeof buf_a);
        return 2;
    }
    in = fopen(argv[1], "rb");
    if (in == NULL) {
        fprintf(stderr, "cannot open %s\n", argv[1]);
        return 2;
    }
    out = fopen(argv[2], "wb");
    if (out == NULL) {
        fprintf(stderr, "cannot write %s\n", argv[2]);
        fclose(in);
        return 2;
    }
    image = (unsigned char *)malloc(pixels);  /* the runner's I/O only; inference allocates nothing */
    if (image == NULL)
        return 2;
    while (fread(image, 1, pixels, in) == pixels) {
        c2f_run(net, image, buf_a, buf_b, logits);
        fwrite(logits, 1, net->n_classes, out);
        n++;
    }
    free(image);
    fclose(in);
    fclose(out);
    fprintf(stderr, "%s: %lu images\n", net->name, (unsigned long)n);
    return 0;
}
