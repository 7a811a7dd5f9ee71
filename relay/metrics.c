/*
 * metrics.c - see metrics.h.  Everything is a counter since start or a
 * gauge of now; rates ("messages per second") are Prometheus's
 * rate(...[1m]) over the counters, which stays right across scrapes that
 * are late or missing, where a rate computed here would not.
 *
 * The endpoint has no authentication: main.c lets it listen on loopback
 * addresses only.  It answers GET and HEAD of /metrics, nothing else, and
 * takes no request body.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "../common/sberr.h"
#include "../common/wire.h"
#include "metrics.h"

static const char *const class_names[RELAY_EC_COUNT] = {
	"auth", "permission", "not_found", "exists", "stale", "quota", "rate_limit",
	"too_big", "no_space", "storage", "invalid", "other", "tls", "timeout",
	"protocol", "overload",
};

enum relay_err_class
relay_err_class_of(int err)
{
	switch (err) {
	case SB_ERR_AUTH: case SB_ERR_ENROLL_CODE: return RELAY_EC_AUTH;
	case SB_ERR_PERMISSION:    return RELAY_EC_PERMISSION;
	case SB_ERR_NOT_FOUND:     return RELAY_EC_NOT_FOUND;
	case SB_ERR_EXISTS:        return RELAY_EC_EXISTS;
	case SB_ERR_STALE_DEVICES: return RELAY_EC_STALE;
	case SB_ERR_QUOTA:         return RELAY_EC_QUOTA;
	case SB_ERR_RATE_LIMIT:    return RELAY_EC_RATE_LIMIT;
	case SB_ERR_TOO_BIG:       return RELAY_EC_TOO_BIG;
	case SB_ERR_NO_SPACE:      return RELAY_EC_NO_SPACE;
	case SB_ERR_STORAGE:       return RELAY_EC_STORAGE;
	case SB_ERR_INVALID_ARG: case SB_ERR_PROTOCOL: case SB_ERR_KEY_TYPE:
	case SB_ERR_KEY_INVALID:   return RELAY_EC_INVALID;
	default:                   return RELAY_EC_OTHER;
	}
}

int
relay_close_class_of(const char *reason)
{
	static const struct { const char *prefix; int class; } t[] = {
		{ "tls", RELAY_EC_TLS },                 /* "tls: ...", "tls handshake timeout" */
		{ "idle timeout", RELAY_EC_TIMEOUT },
		{ "write timeout", RELAY_EC_TIMEOUT },
		{ "not authenticated in time", RELAY_EC_TIMEOUT },
		{ "oversized", RELAY_EC_PROTOCOL },
		{ "unknown message type", RELAY_EC_PROTOCOL },
		{ "malformed", RELAY_EC_PROTOCOL },
		{ "frame before", RELAY_EC_PROTOCOL },
		{ "blob data outside", RELAY_EC_PROTOCOL },
		{ "unexpected message type", RELAY_EC_PROTOCOL },
		{ "too many failed authentication", RELAY_EC_AUTH },
		{ "unauthenticated connections", RELAY_EC_OVERLOAD },
		{ "descriptors exhausted", RELAY_EC_OVERLOAD },
		{ "out of memory", RELAY_EC_OVERLOAD },
		{ "cannot queue a reply", RELAY_EC_OVERLOAD },
	};
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (strncmp(reason, t[i].prefix, strlen(t[i].prefix)) == 0)
			return t[i].class;
	return -1;
}

static void
metric(struct sb_buf *out, const char *name, const char *type, const char *help,
    uint64_t v)
{
	char line[320];
	int n = snprintf(line, sizeof(line), "# HELP %s %s\n# TYPE %s %s\n%s %llu\n",
	    name, help, name, type, name, (unsigned long long)v);

	if (n > 0 && (size_t)n < sizeof(line))
		sb_put_bytes(out, line, (size_t)n);
}

int
relay_metrics_render(const struct relay_snapshot *s, struct sb_buf *out)
{
	char line[160];
	int i, n;

	metric(out, "sealbox_relay_connections", "gauge",
	    "Open connections, authenticated or not.", s->open_connections);
	metric(out, "sealbox_relay_authenticated_devices", "gauge",
	    "Open connections authenticated as a device.", s->authenticated);
	metric(out, "sealbox_relay_connections_accepted_total", "counter",
	    "Connections accepted since start.", s->c.connections);
	metric(out, "sealbox_relay_messages_accepted_total", "counter",
	    "SEND batches committed (one per message, whatever its recipients).",
	    s->c.accepted);
	metric(out, "sealbox_relay_messages_pushed_total", "counter",
	    "Queued items pushed to devices (again after a reconnect).", s->c.pushed);
	metric(out, "sealbox_relay_messages_acked_total", "counter",
	    "Queued items acknowledged, hence deleted.", s->c.acked);
	metric(out, "sealbox_relay_commits_total", "counter",
	    "Group commits: one transaction and one fsync each, for every SEND"
	    " and ACK of one turn of the event loop.", s->c.commits);
	metric(out, "sealbox_relay_committed_ops_total", "counter",
	    "SENDs and ACKs those group commits held.", s->c.committed_ops);
	metric(out, "sealbox_relay_commit_ops_max", "gauge",
	    "The most SENDs and ACKs one group commit held since start.", s->c.commit_ops_max);
	metric(out, "sealbox_relay_blobs_uploaded_total", "counter",
	    "Blobs stored since start.", s->c.blobs_uploaded);
	metric(out, "sealbox_relay_blob_bytes_uploaded_total", "counter",
	    "Bytes of the blobs stored since start.", s->c.blob_bytes_uploaded);
	if (s->store_ok) {
		metric(out, "sealbox_relay_devices", "gauge",
		    "Devices in the directory.", s->devices);
		metric(out, "sealbox_relay_queue_depth", "gauge",
		    "Items queued for devices, not acknowledged or expired yet.", s->queued_items);
		metric(out, "sealbox_relay_blobs_stored", "gauge",
		    "Blobs in the blob store.", s->blobs);
		metric(out, "sealbox_relay_blob_bytes_stored", "gauge",
		    "Bytes of the blobs in the blob store.", s->blob_bytes);
	}
	metric(out, "sealbox_relay_certificate_rotation_pending", "gauge",
	    "1 while a next certificate is announced (rotate-cert), else 0.",
	    (uint64_t)s->rotation_pending);
	metric(out, "sealbox_relay_start_time_seconds", "gauge",
	    "When serve started, seconds since the epoch.", s->start_time);
	{
		static const char h[] = "# HELP sealbox_relay_errors_total Requests refused and"
		    " connections closed abnormally, by class.\n"
		    "# TYPE sealbox_relay_errors_total counter\n";

		sb_put_bytes(out, h, sizeof(h) - 1);
	}
	for (i = 0; i < RELAY_EC_COUNT; i++) {
		n = snprintf(line, sizeof(line), "sealbox_relay_errors_total{class=\"%s\"} %llu\n",
		    class_names[i], (unsigned long long)s->c.errors[i]);
		sb_put_bytes(out, line, (size_t)n);
	}
	return out->err;
}

struct scrape {
	void (*fill)(void *arg, struct relay_snapshot *s);
	void *arg;
};

static void
handle(struct evhttp_request *req, void *arg)
{
	struct scrape *sc = arg;
	struct relay_snapshot s;
	struct sb_buf body = SB_BUF_INIT;
	struct evbuffer *eb;
	const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));

	if (path == NULL || strcmp(path, "/metrics") != 0) {
		evhttp_send_error(req, HTTP_NOTFOUND, "only /metrics here");
		return;
	}
	memset(&s, 0, sizeof(s));
	sc->fill(sc->arg, &s);
	if (relay_metrics_render(&s, &body) != SB_OK || (eb = evbuffer_new()) == NULL) {
		sb_buf_free(&body);
		evhttp_send_error(req, HTTP_INTERNAL, "out of memory");
		return;
	}
	evbuffer_add(eb, body.d, body.len);
	sb_buf_free(&body);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
	    "text/plain; version=0.0.4; charset=utf-8");
	evhttp_send_reply(req, HTTP_OK, "OK", eb);
	evbuffer_free(eb);
}

int
relay_metrics_listen(struct event_base *base, const char *host, uint16_t port,
    void (*fill)(void *arg, struct relay_snapshot *s), void *arg, struct evhttp **out)
{
	static struct scrape sc;   /* one endpoint per process */
	struct evhttp *h;
	int e;

	*out = NULL;
	sc.fill = fill;
	sc.arg = arg;
	if ((h = evhttp_new(base)) == NULL)
		return SB_ERR_ALLOC;
	evhttp_set_allowed_methods(h, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
	evhttp_set_max_headers_size(h, 8192);
	evhttp_set_max_body_size(h, 0);
	evhttp_set_timeout(h, 10);
	evhttp_set_gencb(h, handle, &sc);
	errno = 0;
	if (evhttp_bind_socket_with_handle(h, host, port) == NULL) {
		e = errno != 0 ? errno : EADDRINUSE;
		evhttp_free(h);
		errno = e;
		return SB_ERR_SYSTEM;
	}
	*out = h;
	return SB_OK;
}
