/* A tiny host stand-in for the Arduino core: enough for the example sketch (Serial output
 * to stdout). Test-only. */
#ifndef ARDUINO_STUB_H
#define ARDUINO_STUB_H

#include <stdio.h>

class HostSerial {
public:
    void begin(unsigned long) {}
    explicit operator bool() const { return true; }
    void print(const char *s) { fputs(s, stdout); }
    void print(int v) { printf("%d", v); }
    void println(const char *s) { printf("%s\n", s); }
    void println(int v) { printf("%d\n", v); }
    void println() { putchar('\n'); }
};

extern HostSerial Serial;
inline unsigned long micros() { return 0; }
inline void delay(unsigned long) {}

#endif
