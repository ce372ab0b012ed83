/* A C11 single-producer single-consumer ring of samples (Anomaly.Sample's layout): the reference the Swift SPSCRing is measured
 * against. Shape: power-of-two slots indexed by 64-bit sequences; the published tail and head each alone on a
 * 128-byte line; each side's private state (its own index, its cached copy of the other side's index, copies of
 * the read-only slots/mask) local to its thread; release after writing a slot, acquire before reading one. */
#define _GNU_SOURCE
#include "BenchmarkC.h"
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define CMB_LINE 128

typedef struct ring {
    _Alignas(CMB_LINE) _Atomic uint64_t tail;      /* published by the producer */
    _Alignas(CMB_LINE) _Atomic uint64_t head;      /* published by the consumer */
    _Alignas(CMB_LINE) _Atomic uint32_t parked;    /* the consumer's futex word (only read here: it never parks) */
    _Alignas(CMB_LINE) cmb_sample *slots;          /* read-only after setup */
    uint64_t mask;
} ring;

/* Each end's private state, kept by its thread (on its stack, so in registers in the loops), as the Swift ring
 * keeps it in its ~Copyable Producer and Consumer. */
typedef struct producer {
    ring *r;
    cmb_sample *slots;
    uint64_t mask, next, published, cached_head;
    int park_check;
} producer;

static __attribute__((noinline)) void wake_consumer(ring *r) { atomic_store_explicit(&r->parked, 0, memory_order_relaxed); }

typedef struct consumer {
    ring *r;
    const cmb_sample *slots;
    uint64_t mask, head, cached_tail;
} consumer;

_Static_assert(offsetof(ring, head) - offsetof(ring, tail) == CMB_LINE, "tail and head on separate lines");

static inline int ring_stage(producer *p, const cmb_sample *s) {
    if (p->next - p->cached_head > p->mask) {
        p->cached_head = atomic_load_explicit(&p->r->head, memory_order_acquire);
        if (p->next - p->cached_head > p->mask) return 0;
    }
    p->slots[p->next & p->mask] = *s;
    p->next++;
    return 1;
}

static inline void ring_publish(producer *p) {
    if (p->next == p->published) return;
    p->published = p->next;
    atomic_store_explicit(&p->r->tail, p->next, memory_order_release);
    /* The Swift ring's wake-up check (with membarrier on the consumer side, a compiler barrier suffices here). */
    if (p->park_check) {
        atomic_signal_fence(memory_order_seq_cst);
        if (atomic_load_explicit(&p->r->parked, memory_order_relaxed) != 0) wake_consumer(p->r);
    }
}

static inline int ring_pop(consumer *c, cmb_sample *out) {
    if (c->head == c->cached_tail) {
        c->cached_tail = atomic_load_explicit(&c->r->tail, memory_order_acquire);
        if (c->head == c->cached_tail) return 0;
    }
    *out = c->slots[c->head & c->mask];
    c->head++;
    atomic_store_explicit(&c->r->head, c->head, memory_order_release);
    return 1;
}

/* Sums `time` over every available element, releases them with one store; returns how many. */
static inline uint64_t ring_drain(consumer *c, double *sum) {
    if (c->head == c->cached_tail) {
        c->cached_tail = atomic_load_explicit(&c->r->tail, memory_order_acquire);
        if (c->head == c->cached_tail) return 0;
    }
    uint64_t n = c->cached_tail - c->head;
    double acc = *sum;
    for (uint64_t s = c->head; s != c->cached_tail; s++) acc += c->slots[s & c->mask].time;
    *sum = acc;
    c->head = c->cached_tail;
    atomic_store_explicit(&c->r->head, c->head, memory_order_release);
    return n;
}

typedef struct run_ctx {
    ring *r;
    uint64_t items;
    uint32_t batch;
    int park_check;
    int cpu[2];
    _Atomic int ready;
    _Atomic int go;
    uint64_t t0, t1;
    double checksum;
    uint64_t full_spins;
    _Atomic uint64_t preemptions;
} run_ctx;

static void gate(run_ctx *x) {
    atomic_fetch_add_explicit(&x->ready, 1, memory_order_acq_rel);
    while (!atomic_load_explicit(&x->go, memory_order_acquire)) __builtin_ia32_pause();
}

static void *producer_main(void *arg) {
    run_ctx *x = arg;
    producer pr = { .r = x->r, .slots = x->r->slots, .mask = x->r->mask, .park_check = x->park_check };
    producer *r = &pr;
    cmb_pin_current_thread(x->cpu[0]);
    gate(x);
    uint64_t preempted = cmb_thread_preemptions();
    x->t0 = cmb_now_ns();
    uint64_t spins = 0;
    cmb_sample s = { 0, 0.5, 0.1f, -1.0f, 0.05f, 1 };
    if (x->batch <= 1) {
        for (uint64_t i = 0; i < x->items; i++) {
            s.time = (double)i;
            while (!ring_stage(r, &s)) spins++;
            ring_publish(r);
        }
    } else {
        uint64_t i = 0;
        while (i < x->items) {
            uint64_t end = i + x->batch < x->items ? i + x->batch : x->items;
            for (; i < end; i++) {
                s.time = (double)i;
                while (!ring_stage(r, &s)) { ring_publish(r); spins++; }
            }
            ring_publish(r);
        }
    }
    x->full_spins = spins;
    atomic_fetch_add(&x->preemptions, cmb_thread_preemptions() - preempted);
    return NULL;
}

static void *consumer_main(void *arg) {
    run_ctx *x = arg;
    consumer co = { .r = x->r, .slots = x->r->slots, .mask = x->r->mask };
    consumer *r = &co;
    cmb_pin_current_thread(x->cpu[1]);
    gate(x);
    uint64_t preempted = cmb_thread_preemptions();
    double sum = 0;
    uint64_t got = 0;
    if (x->batch <= 1) {
        cmb_sample s;
        while (got < x->items) if (ring_pop(r, &s)) { sum += s.time; got++; }
    } else {
        while (got < x->items) got += ring_drain(r, &sum);
    }
    x->t1 = cmb_now_ns();
    x->checksum = sum;
    atomic_fetch_add(&x->preemptions, cmb_thread_preemptions() - preempted);
    return NULL;
}

cmb_ring_run cmb_ring_throughput(uint64_t items, uint32_t capacity, uint32_t batch, int park_check, int producer_cpu,
                                 int consumer_cpu) {
    cmb_ring_run out = { 0, 0, items, 0, 0 };
    ring *r = aligned_alloc(CMB_LINE, sizeof(ring));
    cmb_sample *slots = aligned_alloc(CMB_LINE, (size_t)capacity * sizeof(cmb_sample));
    if (r == NULL || slots == NULL || capacity < 2 || (capacity & (capacity - 1)) != 0) { free(r); free(slots); return out; }
    memset(r, 0, sizeof *r);
    r->slots = slots;
    r->mask = capacity - 1;
    atomic_init(&r->tail, 0);
    atomic_init(&r->head, 0);
    atomic_init(&r->parked, 0);
    run_ctx x = { .r = r, .items = items, .batch = batch, .park_check = park_check, .cpu = { producer_cpu, consumer_cpu } };
    atomic_init(&x.ready, 0);
    atomic_init(&x.go, 0);
    atomic_init(&x.preemptions, 0);
    pthread_t pt, ct;
    pthread_create(&ct, NULL, consumer_main, &x);
    pthread_create(&pt, NULL, producer_main, &x);
    while (atomic_load_explicit(&x.ready, memory_order_acquire) < 2) sched_yield();
    atomic_store_explicit(&x.go, 1, memory_order_release);
    pthread_join(pt, NULL);
    pthread_join(ct, NULL);
    out.seconds = (double)(x.t1 - x.t0) / 1e9;
    out.checksum = x.checksum;
    out.producer_full_spins = x.full_spins;
    out.preemptions = atomic_load(&x.preemptions);
    free(slots);
    free(r);
    return out;
}
