/* C references and instruments for careMonitordBenchmarks (never linked into the daemon).
 *
 * - an allocation-counting malloc interposer (alloc_count.c): the executable defines malloc & co., so every
 *   library of the process (the Swift runtime included) calls them; they forward to glibc's __libc_* entry points;
 * - a C11 SPSC ring of samples (Anomaly.Sample's layout) and its two-thread throughput run (spsc_ring.c);
 * - the least a decoder of `accel` captures must do: find x/y/z arrays, parse numbers (accel_scan.c);
 * - the rolling statistics set on pre-decoded doubles (rolling.c);
 * - a plain libmosquitto subscriber and a publisher (mosquitto_ref.c), for the live-ingest comparison;
 * - the daemon figures' MQTT client, Nagle off, stamping what it receives (mosquitto_probe.c).
 * Names start with cmb_ (the one required exception: cm_alloc_count). */
#ifndef CAREMONITORD_BENCHMARKC_H
#define CAREMONITORD_BENCHMARKC_H
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* ---- allocation counting ---- */
/* Allocation calls (malloc, calloc, realloc, posix_memalign, aligned_alloc, memalign, valloc, pvalloc) made by
 * the whole process since start. */
uint64_t cm_alloc_count(void);
/* The same, made by the calling thread only. */
uint64_t cmb_alloc_count_thread(void);
/* free() calls with a non-null pointer, process-wide. */
uint64_t cmb_free_count(void);
/* Bytes requested by allocation calls, process-wide. */
uint64_t cmb_alloc_bytes(void);
/* True when malloc resolves to this interposer (the executable's definition won the symbol lookup). */
int cmb_alloc_interposed(void);

/* Keeps a value alive against dead-code elimination (an opaque call in another translation unit). */
void cmb_black_hole(const void *p);

/* ---- time and threads ---- */
static inline uint64_t cmb_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}
/* CPU time of the calling thread (user + system), nanoseconds: immune to other processes taking the core. */
static inline uint64_t cmb_thread_cpu_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}
/* A spin-wait hint (x86 PAUSE). */
static inline void cmb_cpu_relax(void) { __builtin_ia32_pause(); }
/* CPU time of the process (user + system), nanoseconds. */
uint64_t cmb_process_cpu_ns(void);
/* Pins the calling thread to one CPU (ignored when cpu < 0). 0 or an errno. */
int cmb_pin_current_thread(int cpu);
/* Involuntary context switches of the calling thread so far (getrusage RUSAGE_THREAD): a spinning benchmark
 * thread that was preempted by another process shows it here. */
uint64_t cmb_thread_preemptions(void);
/* Spins (no system call) until CLOCK_MONOTONIC reaches deadline_ns; returns the time read. */
uint64_t cmb_spin_until(uint64_t deadline_ns);

/* ---- C11 SPSC ring ---- */
/* The same fields and layout as Anomaly.Sample (32 bytes; the Swift side checks the strides match). */
typedef struct cmb_sample {
    double time;
    double value;
    float x, y, z;
    uint32_t signal;
} cmb_sample;

typedef struct cmb_ring_run {
    double seconds;     /* from the producer's first push to the consumer's last pop */
    double checksum;    /* sum of `time` over popped items (0 + 1 + … + items-1 when nothing was lost) */
    uint64_t items;
    uint64_t producer_full_spins;   /* push attempts that found the ring full */
    uint64_t preemptions;           /* involuntary context switches of the two threads during the run */
} cmb_ring_run;

/* Two threads (producer pinned to producer_cpu, consumer to consumer_cpu; -1 = not pinned) move `items` samples
 * through a ring of `capacity` (a power of two) slots. batch == 1: publish per element, pop per element;
 * batch > 1: stage `batch` elements then publish once, the consumer drains all available and releases once.
 * park_check != 0: after each publication the producer also does what the Swift ring does for its parking
 * consumer (compiler barrier, relaxed load of the consumer's `parked` word on its own line, wake if set). */
cmb_ring_run cmb_ring_throughput(uint64_t items, uint32_t capacity, uint32_t batch, int park_check, int producer_cpu,
                                 int consumer_cpu);

/* ---- accel capture scan ---- */
typedef struct cmb_scan_result {
    uint64_t samples;   /* x/y/z triples found */
    uint64_t lines;
    double checksum;
} cmb_scan_result;
/* Scans a capture in memory (mosquitto_sub -F %j lines whose payload is an escaped `accel` batch string): finds
 * each line's x, y and z arrays and parses their numbers into doubles. No validation, no pipeline. */
cmb_scan_result cmb_accel_scan(const uint8_t *bytes, size_t count);

/* ---- rolling statistics ---- */
typedef struct cmb_rolling_result {
    double checksum;    /* sum of every output (mean + var + min + max + ewma per sample) */
    uint64_t samples;
} cmb_rolling_result;
/* Rolling mean, sample variance (Welford add/remove), min and max (monotonic deques of indices) over the last
 * `window` samples (a power of two), and an EWMA with alpha = 2/(window+1), for every sample of `x`. */
cmb_rolling_result cmb_rolling_stats(const double *x, size_t n, uint32_t window);

/* ---- plain libmosquitto subscriber ---- */
typedef struct cmb_sub_result {
    int error;                  /* 0, or a MOSQ_ERR_* / -errno */
    uint64_t messages;
    uint64_t payload_bytes;
    double first_to_last_s;     /* from the first message to the last one counted */
    uint64_t cpu_ns;            /* CPU time of the subscriber's thread from the first message to the last */
} cmb_sub_result;
/* Connects to host:port, subscribes to `topic` at QoS 0, writes 1 to *ready once the subscription is acknowledged,
 * and counts messages until `expected` arrived or `timeout_s` passed without a message. Runs on the calling thread. */
cmb_sub_result cmb_mosquitto_count(const char *host, int port, const char *topic, uint64_t expected,
                                   double timeout_s, volatile int *ready);

typedef struct cmb_pub_result {
    int error;                  /* 0, or a MOSQ_ERR_* / -errno */
    uint64_t messages;
    double seconds;
} cmb_pub_result;
/* Publishes `count` messages at QoS 0 as fast as the socket takes them, cycling through `distinct` payloads
 * (payloads + offsets[k], lengths[k] bytes, on topics[topic_of[k]]), then flushes and disconnects. Call
 * mosquitto_lib_init once before. Runs on the calling thread. */
cmb_pub_result cmb_mosquitto_publish(const char *host, int port, const char *const *topics, const uint8_t *payloads,
                                     const size_t *offsets, const size_t *lengths, const int *topic_of,
                                     size_t distinct, uint64_t count);
/* Reads a flag written by another thread (acquire). */
static inline int cmb_load_acquire(const volatile int *p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
/* mosquitto_lib_init, once per process (it is not thread-safe). */
void cmb_mosquitto_init_once(void);

/* ---- the daemon figures' MQTT client ---- */
/* Called on libmosquitto's network thread for every message, with CLOCK_MONOTONIC read first thing. */
typedef void (*cmb_probe_message_fn)(void *context, uint64_t received_ns, const char *topic, const void *payload,
                                     size_t length);
typedef struct cmb_probe cmb_probe;
/* Connects to host:port with TCP_NODELAY, subscribes to `topics` (kept by the caller until cmb_probe_stop) at QoS 1
 * and starts libmosquitto's network thread. Returns once every subscription is acknowledged, or NULL with *error
 * (a MOSQ_ERR_* or -errno) when it failed or timeout_s passed. Call cmb_mosquitto_init_once before. */
cmb_probe *cmb_probe_start(const char *host, int port, const char *const *topics, int count, double timeout_s,
                           cmb_probe_message_fn on_message, void *context, int *error);
/* Publishes (thread-safe). Returns CLOCK_MONOTONIC read just before mosquitto_publish, or 0 when it failed. */
uint64_t cmb_probe_publish(cmb_probe *probe, const char *topic, const void *payload, size_t length, int qos);
/* Disconnects, stops the network thread and frees the probe. */
void cmb_probe_stop(cmb_probe *probe);
#endif
