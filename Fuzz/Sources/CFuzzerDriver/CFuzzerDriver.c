// The declaration lives in include/CFuzzerDriver.h; the definition is libFuzzer's (linked by -sanitize=fuzzer).
#include "CFuzzerDriver.h"
