/* Host entry point for an Arduino sketch: setup() once, loop() once. Test-only. */
#include "Arduino.h"

HostSerial Serial;

void setup();
void loop();

int main()
{
    setup();
    loop();
    return 0;
}
