/* Linux system calls that Swift cannot reach directly (syscall(2) is variadic): futex and membarrier.
 * Header-only: every function is static inline and calls exactly one system call. */
#ifndef CAREMONITORD_CLINUX_SHIM_H
#define CAREMONITORD_CLINUX_SHIM_H
#include <errno.h>
#include <linux/futex.h>
#include <linux/membarrier.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* futex(FUTEX_WAIT_PRIVATE): sleeps while *word == expected, at most timeout_ns. Returns 0 or -errno. */
static inline int cm_futex_wait(uint32_t *word, uint32_t expected, int64_t timeout_ns) {
    struct timespec ts = { (time_t)(timeout_ns / 1000000000LL), (long)(timeout_ns % 1000000000LL) };
    long r = syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, expected, &ts, NULL, 0);
    return r == 0 ? 0 : -errno;
}

/* futex(FUTEX_WAKE_PRIVATE): wakes up to count waiters. Returns the number woken or -errno. */
static inline int cm_futex_wake(uint32_t *word, int count) {
    long r = syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, count, NULL, NULL, 0);
    return r >= 0 ? (int)r : -errno;
}

/* membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED): once per process before cm_membarrier_heavy. 0 or -errno. */
static inline int cm_membarrier_register(void) {
    long r = syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0);
    return r == 0 ? 0 : -errno;
}

/* membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED): a full memory barrier on every running thread of this process,
 * so that the other side of an asymmetric (Dekker-style) handshake needs only a compiler barrier. 0 or -errno. */
static inline int cm_membarrier_heavy(void) {
    long r = syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0);
    return r == 0 ? 0 : -errno;
}
/* A compiler-only barrier (no instruction): the light side of the membarrier handshake. */
static inline void cm_compiler_barrier(void) { __asm__ __volatile__("" ::: "memory"); }
/* A spin-wait hint (x86 PAUSE, ARM YIELD): lets an SMT sibling (often the producer, on a 2-vCPU machine) run. */
static inline void cm_cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}
#endif
