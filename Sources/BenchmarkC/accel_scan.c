/* The floor for decoding an `accel` capture: for each '[' whose key (inside the escaped payload string, so the
 * bytes before it read  \"x\":  ) is x, y or z, parse the comma-separated decimals into doubles with a digit loop
 * and an exact power-of-ten division. No JSON validation, no timestamps, no routing, no ring. */
#include "BenchmarkC.h"
#include <string.h>

static const double pow10_table[] = { 1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
                                      1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18 };

/* Parses one decimal at p (p < end); returns the byte after it. */
static inline const uint8_t *decimal(const uint8_t *p, const uint8_t *end, double *out) {
    int negative = p < end && *p == '-';
    p += negative;
    uint64_t m = 0;
    unsigned d;
    while (p < end && (d = (unsigned)*p - '0') <= 9) { m = m * 10 + d; p++; }
    unsigned fraction = 0;
    if (p < end && *p == '.') {
        p++;
        while (p < end && (d = (unsigned)*p - '0') <= 9 && fraction < 18) { m = m * 10 + d; p++; fraction++; }
    }
    double v = (double)m / pow10_table[fraction];
    *out = negative ? -v : v;
    return p;
}

cmb_scan_result cmb_accel_scan(const uint8_t *bytes, size_t count) {
    cmb_scan_result r = { 0, 0, 0 };
    const uint8_t *p = bytes, *end = bytes + count;
    uint64_t axis_values[3] = { 0, 0, 0 };
    double sum = 0;
    while (p < end) {
        const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
        const uint8_t *line_end = nl ? nl : end;
        r.lines++;
        const uint8_t *q = p;
        while ((q = memchr(q, '[', (size_t)(line_end - q))) != NULL) {
            int axis = q - p >= 6 && q[-1] == ':' && q[-2] == '"' && q[-3] == '\\' ? q[-4] - 'x' : -1;
            q++;
            if (axis < 0 || axis > 2) continue;
            uint64_t n = 0;
            while (q < line_end && *q != ']') {
                double v;
                q = decimal(q, line_end, &v);
                sum += v;
                n++;
                if (q < line_end && *q == ',') q++;
                else if (q < line_end && *q != ']') break;   /* not a number: give up on this array */
            }
            axis_values[axis] += n;
        }
        p = line_end + 1;
    }
    uint64_t s = axis_values[0];
    if (axis_values[1] < s) s = axis_values[1];
    if (axis_values[2] < s) s = axis_values[2];
    r.samples = s;
    r.checksum = sum;
    return r;
}
