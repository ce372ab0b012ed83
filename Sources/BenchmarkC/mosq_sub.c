/* A plain libmosquitto subscriber that only counts: the reference for the live-ingest figure. It runs the network
 * loop on the calling thread (mosquitto_loop), subscribes in the connect callback, and counts messages and bytes
 * in the message callback (the payload is only read, as a decoder would start to). */
#include "BenchmarkC.h"
#include <errno.h>
#include <mosquitto.h>
#include <stdatomic.h>

typedef struct sub_state {
    const char *topic;
    uint64_t expected;
    volatile int *ready;
    uint64_t messages, bytes;
    uint64_t first_ns, last_ns;
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
    uint64_t now = cmb_now_ns();
    if (s->messages == 0) s->first_ns = now;
    s->last_ns = now;
    s->messages++;
    s->bytes += (uint64_t)msg->payloadlen;
    if (msg->payloadlen > 0) s->checksum += ((const uint8_t *)msg->payload)[msg->payloadlen - 1];
}

cmb_sub_result cmb_mosquitto_count(const char *host, int port, const char *topic, uint64_t expected,
                                   double timeout_s, volatile int *ready) {
    cmb_sub_result r = { 0, 0, 0, 0, 0 };
    sub_state s = { .topic = topic, .expected = expected, .ready = ready };
    uint64_t cpu0 = thread_cpu_ns();
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
    r.cpu_ns = thread_cpu_ns() - cpu0;
    mosquitto_disconnect(m);
    mosquitto_destroy(m);
    r.messages = s.messages;
    r.payload_bytes = s.bytes;
    r.first_to_last_s = s.messages > 1 ? (double)(s.last_ns - s.first_ns) / 1e9 : 0;
    cmb_black_hole(&s.checksum);
    return r;
}
