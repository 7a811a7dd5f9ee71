/*
 * metrics.h - the relay's counters and its loopback Prometheus endpoint
 * (metrics.c; docs/RELAY.md "Metrics").  server.c keeps the counters and
 * fills a snapshot when scraped; metrics.c serves it over HTTP from the
 * relay's own libevent loop (evhttp) and renders the text format.
 */
#ifndef SB_RELAY_METRICS_H
#define SB_RELAY_METRICS_H

#include <stdint.h>

struct event_base;
struct evhttp;
struct sb_buf;

/* Why a request was refused or a connection closed abnormally. */
enum relay_err_class {
	RELAY_EC_AUTH, RELAY_EC_PERMISSION, RELAY_EC_NOT_FOUND, RELAY_EC_EXISTS,
	RELAY_EC_STALE, RELAY_EC_QUOTA, RELAY_EC_RATE_LIMIT, RELAY_EC_TOO_BIG,
	RELAY_EC_NO_SPACE, RELAY_EC_STORAGE, RELAY_EC_INVALID, RELAY_EC_OTHER,
	RELAY_EC_TLS, RELAY_EC_TIMEOUT, RELAY_EC_PROTOCOL, RELAY_EC_OVERLOAD,
	RELAY_EC_COUNT
};

/* Counters since start, kept by server.c on its one thread. */
struct relay_counters {
	uint64_t connections;         /* accepted */
	uint64_t accepted;            /* SEND batches committed */
	uint64_t pushed;              /* PUSH frames written */
	uint64_t acked;               /* items deleted by ACK */
	uint64_t commits;             /* store groups committed (group commit) */
	uint64_t committed_ops;       /* SENDs and ACKs those groups held */
	uint64_t commit_ops_max;      /* the most one group held */
	uint64_t blobs_uploaded, blob_bytes_uploaded;
	uint64_t errors[RELAY_EC_COUNT];
};

/* One scrape: the counters plus gauges read at that moment. */
struct relay_snapshot {
	struct relay_counters c;
	uint64_t open_connections, authenticated;
	uint64_t devices, queued_items, blobs, blob_bytes;
	int store_ok;                 /* the store answered (else its gauges are absent) */
	int rotation_pending;
	uint64_t start_time;
};

/* The class of an ERROR answer's code (a negative SB_ERR_*). */
enum relay_err_class relay_err_class_of(int err);
/* The class of a close reason (server.c's texts), -1 for a normal close. */
int  relay_close_class_of(const char *reason);

/* Prometheus text format 0.0.4 of s, appended to out. */
int  relay_metrics_render(const struct relay_snapshot *s, struct sb_buf *out);

/*
 * Serves GET /metrics on host:port (the caller has checked it is a
 * loopback address) from base, calling fill(arg, snapshot) per scrape.
 * SB_ERR_SYSTEM (errno) when it cannot listen.  Free with evhttp_free.
 */
int  relay_metrics_listen(struct event_base *base, const char *host, uint16_t port,
         void (*fill)(void *arg, struct relay_snapshot *s), void *arg,
         struct evhttp **out);

#endif
