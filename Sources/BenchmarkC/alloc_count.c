/* Allocation counting by interposition. glibc 2.36 has no malloc hooks, so the benchmark executable defines the
 * allocation entry points itself; the dynamic linker resolves every library's malloc (libswiftCore's included) to
 * the executable's definition first. Each one counts and forwards to glibc's own implementation (__libc_*).
 * Counters: one process-wide atomic per figure (relaxed: they are statistics, read after the fact) plus a
 * thread-local count (initial-exec TLS lives in the static TLS block: touching it never allocates). */
#define _GNU_SOURCE
#include "BenchmarkC.h"
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
extern void *__libc_valloc(size_t);
extern void *__libc_pvalloc(size_t);
extern void __libc_free(void *);

static _Atomic uint64_t allocations;
static _Atomic uint64_t frees;
static _Atomic uint64_t requested_bytes;
static __thread uint64_t thread_allocations __attribute__((tls_model("initial-exec")));

static inline void counted(size_t bytes) {
    atomic_fetch_add_explicit(&allocations, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&requested_bytes, bytes, memory_order_relaxed);
    thread_allocations++;
}

void *malloc(size_t n) { counted(n); return __libc_malloc(n); }

void *calloc(size_t count, size_t size) { counted(count * size); return __libc_calloc(count, size); }

void *realloc(void *p, size_t n) {
    if (p == NULL || n != 0) counted(n);
    else atomic_fetch_add_explicit(&frees, 1, memory_order_relaxed);   /* realloc(p, 0) frees */
    return __libc_realloc(p, n);
}

void free(void *p) {
    if (p != NULL) atomic_fetch_add_explicit(&frees, 1, memory_order_relaxed);
    __libc_free(p);
}

void *memalign(size_t alignment, size_t n) { counted(n); return __libc_memalign(alignment, n); }

void *aligned_alloc(size_t alignment, size_t n) { counted(n); return __libc_memalign(alignment, n); }

int posix_memalign(void **out, size_t alignment, size_t n) {
    if (alignment == 0 || (alignment & (alignment - 1)) != 0 || alignment % sizeof(void *) != 0) return EINVAL;
    counted(n);
    void *p = __libc_memalign(alignment, n);
    if (p == NULL) return ENOMEM;
    *out = p;
    return 0;
}

void *valloc(size_t n) { counted(n); return __libc_valloc(n); }

void *pvalloc(size_t n) { counted(n); return __libc_pvalloc(n); }

uint64_t cm_alloc_count(void) { return atomic_load_explicit(&allocations, memory_order_relaxed); }
uint64_t cmb_alloc_count_thread(void) { return thread_allocations; }
uint64_t cmb_free_count(void) { return atomic_load_explicit(&frees, memory_order_relaxed); }
uint64_t cmb_alloc_bytes(void) { return atomic_load_explicit(&requested_bytes, memory_order_relaxed); }

int cmb_alloc_interposed(void) {
    /* What a shared library's call to malloc binds to: the first definition in the global lookup scope. */
    return dlsym(RTLD_DEFAULT, "malloc") == (void *)&malloc;
}

void cmb_black_hole(const void *p) { __asm__ __volatile__("" : : "r"(p) : "memory"); }

uint64_t cmb_process_cpu_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int cmb_pin_current_thread(int cpu) {
    if (cpu < 0) return 0;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

uint64_t cmb_thread_preemptions(void) {
    struct rusage u;
    return getrusage(RUSAGE_THREAD, &u) == 0 ? (uint64_t)u.ru_nivcsw : 0;
}

uint64_t cmb_spin_until(uint64_t deadline_ns) {
    uint64_t t;
    while ((t = cmb_now_ns()) < deadline_ns) __builtin_ia32_pause();
    return t;
}
