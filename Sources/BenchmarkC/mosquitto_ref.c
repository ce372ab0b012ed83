/* The live-ingest figure's C side: a plain libmosquitto subscriber that only counts (the reference our client is
 * compared with), and the publisher that feeds both. Each runs its network loop on the calling thread
 * (mosquitto_loop); the subscriber subscribes in the connect callback and counts messages and bytes in the message
 * callback (reading the payload's last byte, as a decoder would start to). */
#include "BenchmarkC.h"
#include <errno.h>
#include <mosquitto.h>
#include <stdatomic.h>

typedef struct sub_state {
    const char *topic;
    uint64_t expected;
    volatile int *ready;
    uint64_t messages, bytes;
    uint64_t first_ns, last_ns, first_cpu_ns, last_cpu_ns;
    uint64_t checksum;
    int subscribe_error;
} sub_state;

static uint64_t thread_cpu_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void on_connect(struct mosquitto *m, void *user, int rc) {
    sub_state *s = user;
    if (rc != 0) { s->subscribe_error = rc; return; }
    int e = mosquitto_subscribe(m, NULL, s->topic, 0);
    if (e != MOSQ_ERR_SUCCESS) s->subscribe_error = e;
}

static void on_subscribe(struct mosquitto *m, void *user, int mid, int count, const int *granted) {
    (void)m; (void)mid;
    sub_state *s = user;
    if (count < 1 || granted[0] > 2) { s->subscribe_error = MOSQ_ERR_ACL_DENIED; return; }
    __atomic_store_n(s->ready, 1, __ATOMIC_RELEASE);
}

static void on_message(struct mosquitto *m, void *user, const struct mosquitto_message *msg) {
    (void)m;
    sub_state *s = user;
    uint64_t now = cmb_now_ns(), cpu = thread_cpu_ns();
    if (s->messages == 0) { s->first_ns = now; s->first_cpu_ns = cpu; }
    s->last_ns = now;
    s->last_cpu_ns = cpu;
    s->messages++;
    s->bytes += (uint64_t)msg->payloadlen;
    if (msg->payloadlen > 0) s->checksum += ((const uint8_t *)msg->payload)[msg->payloadlen - 1];
}

cmb_sub_result cmb_mosquitto_count(const char *host, int port, const char *topic, uint64_t expected,
                                   double timeout_s, volatile int *ready) {
    cmb_sub_result r = { 0, 0, 0, 0, 0 };
    sub_state s = { .topic = topic, .expected = expected, .ready = ready };
    struct mosquitto *m = mosquitto_new(NULL, 1, &s);
    if (m == NULL) { r.error = -errno; return r; }
    mosquitto_connect_callback_set(m, on_connect);
    mosquitto_subscribe_callback_set(m, on_subscribe);
    mosquitto_message_callback_set(m, on_message);
    int e = mosquitto_connect(m, host, port, 30);
    if (e != MOSQ_ERR_SUCCESS) { r.error = e; mosquitto_destroy(m); return r; }
    uint64_t last_progress = cmb_now_ns(), seen = 0;
    while (s.messages < expected && s.subscribe_error == 0) {
        e = mosquitto_loop(m, 100, 1);
        if (e != MOSQ_ERR_SUCCESS) { r.error = e; break; }
        uint64_t now = cmb_now_ns();
        if (s.messages != seen) { seen = s.messages; last_progress = now; }
        else if ((double)(now - last_progress) / 1e9 > timeout_s) break;
    }
    if (s.subscribe_error != 0 && r.error == 0) r.error = s.subscribe_error;
    r.cpu_ns = s.messages > 1 ? s.last_cpu_ns - s.first_cpu_ns : 0;
    mosquitto_disconnect(m);
    mosquitto_destroy(m);
    r.messages = s.messages;
    r.payload_bytes = s.bytes;
    r.first_to_last_s = s.messages > 1 ? (double)(s.last_ns - s.first_ns) / 1e9 : 0;
    cmb_black_hole(&s.checksum);
    return r;
}

typedef struct pub_state { int connected; int error; } pub_state;

static void on_pub_connect(struct mosquitto *m, void *user, int rc) {
    (void)m;
    pub_state *s = user;
    if (rc != 0) s->error = rc; else s->connected = 1;
}

cmb_pub_result cmb_mosquitto_publish(const char *host, int port, const char *const *topics, const uint8_t *payloads,
                                     const size_t *offsets, const size_t *lengths, const int *topic_of,
                                     size_t distinct, uint64_t count) {
    cmb_pub_result r = { 0, 0, 0 };
    pub_state s = { 0, 0 };
    struct mosquitto *m = mosquitto_new(NULL, 1, &s);
    if (m == NULL) { r.error = -errno; return r; }
    mosquitto_connect_callback_set(m, on_pub_connect);
    int e = mosquitto_connect(m, host, port, 30);
    while (e == MOSQ_ERR_SUCCESS && !s.connected && s.error == 0) e = mosquitto_loop(m, 100, 1);
    if (e != MOSQ_ERR_SUCCESS || s.error != 0) {
        r.error = e != MOSQ_ERR_SUCCESS ? e : s.error;
        mosquitto_destroy(m);
        return r;
    }
    uint64_t t0 = cmb_now_ns();
    for (uint64_t i = 0; i < count; i++) {
        size_t k = (size_t)(i % distinct);
        e = mosquitto_publish(m, NULL, topics[topic_of[k]], (int)lengths[k], payloads + offsets[k], 0, 0);
        if (e == MOSQ_ERR_SUCCESS) e = mosquitto_loop(m, 0, 1);   /* write what the socket takes now */
        if (e != MOSQ_ERR_SUCCESS) { r.error = e; break; }
        r.messages++;
    }
    while (r.error == 0 && mosquitto_want_write(m)) {
        e = mosquitto_loop(m, 10, 1);
        if (e != MOSQ_ERR_SUCCESS) { r.error = e; break; }
    }
    r.seconds = (double)(cmb_now_ns() - t0) / 1e9;
    mosquitto_disconnect(m);
    mosquitto_loop(m, 10, 1);
    mosquitto_destroy(m);
    return r;
}

void cmb_mosquitto_init_once(void) {
    static atomic_int done;
    if (atomic_exchange(&done, 1) == 0) mosquitto_lib_init();
}
