/* The daemon figures' MQTT client: it stands in for the sensors (publishes) and for the TV (subscribes), and
 * stamps every message with CLOCK_MONOTONIC first thing in the message callback. Nagle's algorithm is off on its
 * socket (MOSQ_OPT_TCP_NODELAY): with it on, a small message written while the previous one is unacknowledged
 * waits for the peer's delayed ACK (40 ms on Linux), which would be this client's delay, not the daemon's.
 * libmosquitto's own network thread runs it (mosquitto_loop_start); publishing from another thread is safe. */
#include "BenchmarkC.h"
#include <errno.h>
#include <mosquitto.h>
#include <stdlib.h>
#include <string.h>

struct cmb_probe {
    struct mosquitto *m;
    const char *const *topics;
    int topic_count;
    int suback_pending;     /* written on the network thread, read with __atomic */
    int error;
    cmb_probe_message_fn on_message;
    void *context;
};

static void probe_on_connect(struct mosquitto *m, void *user, int rc) {
    cmb_probe *p = user;
    if (rc != 0) { __atomic_store_n(&p->error, rc, __ATOMIC_RELEASE); return; }
    __atomic_store_n(&p->suback_pending, p->topic_count, __ATOMIC_RELEASE);
    for (int i = 0; i < p->topic_count; i++) {
        int e = mosquitto_subscribe(m, NULL, p->topics[i], 1);
        if (e != MOSQ_ERR_SUCCESS) __atomic_store_n(&p->error, e, __ATOMIC_RELEASE);
    }
}

static void probe_on_subscribe(struct mosquitto *m, void *user, int mid, int count, const int *granted) {
    (void)m; (void)mid;
    cmb_probe *p = user;
    if (count < 1 || granted[0] > 2) { __atomic_store_n(&p->error, MOSQ_ERR_ACL_DENIED, __ATOMIC_RELEASE); return; }
    __atomic_fetch_sub(&p->suback_pending, 1, __ATOMIC_ACQ_REL);
}

static void probe_on_message(struct mosquitto *m, void *user, const struct mosquitto_message *msg) {
    uint64_t now = cmb_now_ns();
    (void)m;
    cmb_probe *p = user;
    p->on_message(p->context, now, msg->topic, msg->payload, msg->payloadlen > 0 ? (size_t)msg->payloadlen : 0);
}

cmb_probe *cmb_probe_start(const char *host, int port, const char *const *topics, int count, double timeout_s,
                           cmb_probe_message_fn on_message, void *context, int *error) {
    cmb_probe *p = calloc(1, sizeof *p);
    if (p == NULL) { *error = -ENOMEM; return NULL; }
    p->topics = topics;
    p->topic_count = count;
    p->suback_pending = -1;
    p->on_message = on_message;
    p->context = context;
    p->m = mosquitto_new(NULL, 1, p);
    if (p->m == NULL) { *error = -errno; free(p); return NULL; }
    mosquitto_int_option(p->m, MOSQ_OPT_TCP_NODELAY, 1);
    mosquitto_connect_callback_set(p->m, probe_on_connect);
    mosquitto_subscribe_callback_set(p->m, probe_on_subscribe);
    mosquitto_message_callback_set(p->m, probe_on_message);
    int e = mosquitto_connect(p->m, host, port, 30);
    if (e == MOSQ_ERR_SUCCESS) e = mosquitto_loop_start(p->m);
    if (e != MOSQ_ERR_SUCCESS) { *error = e; mosquitto_destroy(p->m); free(p); return NULL; }
    uint64_t deadline = cmb_now_ns() + (uint64_t)(timeout_s * 1e9);
    while (__atomic_load_n(&p->suback_pending, __ATOMIC_ACQUIRE) != 0) {
        int failed = __atomic_load_n(&p->error, __ATOMIC_ACQUIRE);
        if (failed != 0 || cmb_now_ns() > deadline) {
            *error = failed != 0 ? failed : MOSQ_ERR_NO_CONN;
            cmb_probe_stop(p);
            return NULL;
        }
        struct timespec ts = { 0, 1000000 };
        nanosleep(&ts, NULL);
    }
    *error = 0;
    return p;
}

uint64_t cmb_probe_publish(cmb_probe *p, const char *topic, const void *payload, size_t length, int qos) {
    uint64_t t0 = cmb_now_ns();
    return mosquitto_publish(p->m, NULL, topic, (int)length, payload, qos, 0) == MOSQ_ERR_SUCCESS ? t0 : 0;
}

void cmb_probe_stop(cmb_probe *p) {
    if (p == NULL) return;
    /* Not connected: the network thread is between reconnect attempts and would not see a disconnect. */
    int connected = mosquitto_disconnect(p->m) == MOSQ_ERR_SUCCESS;
    mosquitto_loop_stop(p->m, !connected);
    mosquitto_destroy(p->m);
    free(p);
}
