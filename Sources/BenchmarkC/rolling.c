/* The per-signal rolling statistics set on pre-decoded doubles, one pass, O(1) amortized per sample:
 * mean and sample variance over the last W values (Welford's update, with the oldest value removed once the window
 * is full), min and max over the same window (monotonic deques of positions: each position enters and leaves each
 * deque once), and an EWMA with alpha = 2/(W+1). Every output of every sample is folded into a checksum, so
 * nothing is dead code and no output array is written. */
#include "BenchmarkC.h"
#include <stdlib.h>

cmb_rolling_result cmb_rolling_stats(const double *x, size_t n, uint32_t window) {
    cmb_rolling_result out = { 0, 0 };
    if (window < 2 || (window & (window - 1)) != 0 || n == 0) return out;
    const size_t W = window, M = W - 1;
    double *values = malloc(W * sizeof(double));           /* the window, by position & M */
    size_t *lo = malloc(W * sizeof(size_t));                 /* deque of positions, values increasing */
    size_t *hi = malloc(W * sizeof(size_t));                 /* deque of positions, values decreasing */
    if (!values || !lo || !hi) { free(values); free(lo); free(hi); return out; }
    size_t lo_first = 0, lo_end = 0, hi_first = 0, hi_end = 0;   /* deques as ever-growing counters & M */
    double mean = 0, m2 = 0, ewma = x[0];
    const double alpha = 2.0 / (double)(W + 1);
    double check = 0;
    size_t filled = 0;
    for (size_t i = 0; i < n; i++) {
        const double v = x[i];
        if (filled == W) {                                   /* remove the oldest value from mean/variance */
            const double old = values[i & M];
            const double before = mean;
            mean = (before * (double)W - old) / (double)(W - 1);
            m2 -= (old - before) * (old - mean);
            filled--;
        }
        values[i & M] = v;
        filled++;
        const double before = mean;
        mean += (v - before) / (double)filled;
        m2 += (v - before) * (v - mean);
        const double variance = filled > 1 ? m2 / (double)(filled - 1) : 0;
        /* min: drop positions that left the window and values not smaller than v. */
        if (lo_end != lo_first && lo[lo_first & M] + W <= i) lo_first++;
        while (lo_end != lo_first && x[lo[(lo_end - 1) & M]] >= v) lo_end--;
        lo[lo_end++ & M] = i;
        if (hi_end != hi_first && hi[hi_first & M] + W <= i) hi_first++;
        while (hi_end != hi_first && x[hi[(hi_end - 1) & M]] <= v) hi_end--;
        hi[hi_end++ & M] = i;
        ewma += alpha * (v - ewma);
        check += mean + variance + x[lo[lo_first & M]] + x[hi[hi_first & M]] + ewma;
    }
    free(values); free(lo); free(hi);
    out.checksum = check;
    out.samples = n;
    return out;
}
