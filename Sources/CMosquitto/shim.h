#ifndef CAREMONITORD_CMOSQUITTO_SHIM_H
#define CAREMONITORD_CMOSQUITTO_SHIM_H
#include <mosquitto.h>
#include <mqtt_protocol.h>
#endif
