#include "BenchmarkC.h"
