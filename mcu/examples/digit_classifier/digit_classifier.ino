// cnn2fpga example: classify the sample digits in digits_cnn_samples.h and print the classes
// over Serial. Copy into this sketch folder: mcu/cnn2fpga.h, mcu/cnn2fpga.c and, from
// `make export MODEL=digits_cnn`, build/digits_cnn/export/digits_cnn_weights.h and
// digits_cnn_samples.h. For your own camera or sensor, fill `pixels` with raw 0..255 (0..16
// for the scikit-learn digits) values in row order instead of copying a sample.
#include <Arduino.h>
#include <string.h>

#include "cnn2fpga.h"
#include "digits_cnn_weights.h"
#include "digits_cnn_samples.h"

static int8_t buf_a[DIGITS_CNN_BUFFER_BYTES];
static int8_t buf_b[DIGITS_CNN_BUFFER_BYTES];
static uint8_t pixels[DIGITS_CNN_PIXELS];

void setup()
{
    Serial.begin(115200);
    while (!Serial) {
    }
}

void loop()
{
    for (int i = 0; i < DIGITS_CNN_SAMPLES; i++) {
        int8_t logits[DIGITS_CNN_CLASSES];
        memcpy(pixels, digits_cnn_samples[i], sizeof pixels);
        unsigned long start = micros();
        int cls = c2f_run(&digits_cnn_net, pixels, buf_a, buf_b, logits);
        unsigned long took = micros() - start;
        Serial.print("sample ");
        Serial.print(i);
        Serial.print(": class ");
        Serial.print(cls);
        Serial.print(" (label ");
        Serial.print(digits_cnn_sample_labels[i]);
        Serial.print(", ");
        Serial.print((int)took);
        Serial.println(" us)");
    }
    delay(5000);
}
