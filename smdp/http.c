/* http.c - the only civetweb code: one HTTPS listener per certificate (ES9+
 * NIST, ES9+ brainpool, ES2+ with client certificates), request limits, and
 * the hand-over of one decoded request to the application's handler. */
#include "smdp.h"
#include "tls.h"

#include <civetweb.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Largest body sent together with its headers in one write. */
#define HTTP_ONE_WRITE (64 * 1024)

/* Limits on what a client may send besides the body (max_body). */
#define HTTP_MAX_HEADERS_SIZE   "16384"  /* civetweb max_request_size: request line + headers */
/* Per-client-address defaults (http_limits fields of 0). One address is one
 * LPA or a NAT of a few dozen; scripts/bench turns the limits off. */
#define HTTP_DEF_CONNS_PER_ADDR 64
#define HTTP_DEF_RPS            200
#define HTTP_DEF_BURST          400
#define HTTP_DEF_REQUEST_TIMEOUT_MS 30000  /* TLS handshake + request head */
#define HTTP_ADDR_SLOTS         4096   /* client addresses tracked at once */
#define HTTP_ADDR_IDLE_S        60     /* an address without connections for this long
                                          gives its slot to another */
#define HTTP_LIMIT_LOG_S        10     /* one log line per address and limit per this */
/* Idle keep-alive connections hold a worker thread each; 15 s covers the
 * pause between two ES9+ calls of one download while the eUICC computes. */
#define HTTP_KEEPALIVE_MS       "15000"
#define HTTP_MAX_THREADS        1024
#define HTTP_MAX_CERT_FILE      (64 * 1024)   /* a PEM bundle */
#define HTTP_SESSION_TIMEOUT_S  1800L         /* TLS session cache / ticket lifetime */
#define HTTP_CHUNK              4096          /* step when reading a chunked body */

/* TLS 1.2 suites of SGP.22 2.6.6.1 (TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
 * TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256). TLS 1.3: OpenSSL's suites with
 * AES-128-GCM first (civetweb sets server preference), as in TLS 1.2. */
#define HTTP_TLS12_CIPHERS "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES128-SHA256"
#define HTTP_TLS13_SUITES \
	"TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"
/* SGP.22 2.6.5 curves. OpenSSL 3.0 negotiates brainpoolP256r1 in TLS 1.2 only. */
#define HTTP_GROUPS "P-256:brainpoolP256r1"

struct http_listener {
	struct http_server *srv;        /* back pointer for the civetweb callbacks */
	size_t index;
	struct http_listener_cfg cfg;   /* own copy */
	struct mg_context *mg;
	int port;                       /* bound port, -1 unknown */
	char err[256];                  /* why the TLS set-up failed (start-up only) */
	int conns_max, rps, burst;      /* effective limits, 0 = none */
	int request_timeout_ms;
};

/* What one client address is doing, across all listeners of the server. */
struct addr_slot {
	char addr[48];                  /* remote_addr; "" = never used */
	int conns;                      /* open connections counted by on_init_connection */
	double tokens;                  /* requests it may send now */
	double seen;                    /* monotonic seconds of its last request or close */
	double refilled;                /* when tokens were last topped up */
	double log_conn, log_rate;      /* when each limit was last logged, 0 never */
	unsigned long quiet_conn, quiet_rate; /* refusals since that log line */
};

struct http_server {
	http_handler h;
	void *ctx;
	size_t max_body;
	size_t n;
	int lib_inited;                 /* mg_init_library succeeded: pair with exit */
	struct http_listener *l;        /* n entries */
	pthread_mutex_t lim_mu;         /* guards slots */
	int lim_mu_inited;
	struct addr_slot *slots;        /* HTTP_ADDR_SLOTS, open addressing by address */
	char mark_counted, mark_over;   /* their addresses tag a connection's user data */
};

static void set_err(char *err, size_t errsz, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errsz, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errsz)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errsz, fmt, ap);
	va_end(ap);
}

/* Send certificates sk[first..] as the chain. 0 / -1 with li->err set. */
static int add_chain(SSL_CTX *sc, STACK_OF(X509) *sk, int first, struct http_listener *li)
{
	char e[160];

	for (int i = first; i < sk_X509_num(sk); i++) {
		if (SSL_CTX_add1_chain_cert(sc, sk_X509_value(sk, i)) != 1) {
			set_err(li->err, sizeof(li->err), "cannot add chain certificate: %s",
				tls_err_text(e, sizeof(e)));
			return -1;
		}
	}
	return 0;
}

/* Certificate (first of cfg->cert, the rest and cfg->chain as chain), key,
 * and the check that they belong together. 0 / -1 with li->err set. */
static int tls_load_identity(SSL_CTX *sc, struct http_listener *li)
{
	const struct http_listener_cfg *cfg = &li->cfg;
	STACK_OF(X509) *certs = NULL, *chain = NULL;
	EVP_PKEY *key = NULL;
	BIO *kb = NULL;
	char e[160];
	int rc = -1;

	certs = tls_load_certs(cfg->cert, HTTP_MAX_CERT_FILE);
	if (!certs) {
		set_err(li->err, sizeof(li->err), "cannot read certificate %s", cfg->cert);
		goto out;
	}
	if (SSL_CTX_use_certificate(sc, sk_X509_value(certs, 0)) != 1) {
		set_err(li->err, sizeof(li->err), "certificate %s refused: %s", cfg->cert,
			tls_err_text(e, sizeof(e)));
		goto out;
	}
	if (cfg->chain[0]) {
		chain = tls_load_certs(cfg->chain, HTTP_MAX_CERT_FILE);
		if (!chain) {
			set_err(li->err, sizeof(li->err), "cannot read chain %s", cfg->chain);
			goto out;
		}
	}
	/* Intermediates: the rest of cfg->cert, then cfg->chain. */
	if (add_chain(sc, certs, 1, li) != 0 || (chain && add_chain(sc, chain, 0, li) != 0))
		goto out;
	kb = BIO_new_file(cfg->key, "r");
	key = kb ? PEM_read_bio_PrivateKey(kb, NULL, NULL, NULL) : NULL;
	if (!key) {
		set_err(li->err, sizeof(li->err), "cannot read private key %s: %s", cfg->key,
			tls_err_text(e, sizeof(e)));
		goto out;
	}
	if (SSL_CTX_use_PrivateKey(sc, key) != 1 || SSL_CTX_check_private_key(sc) != 1) {
		set_err(li->err, sizeof(li->err), "key %s does not match certificate %s",
			cfg->key, cfg->cert);
		goto out;
	}
	rc = 0;
out:
	sk_X509_pop_free(certs, X509_free);
	sk_X509_pop_free(chain, X509_free);
	EVP_PKEY_free(key);
	BIO_free(kb);
	return rc;
}

/* Mutual TLS (ES2+): trust only cfg->client_ca for client certificates and
 * refuse a handshake without one. 0 / -1 with li->err set. */
static int tls_require_client_cert(SSL_CTX *sc, struct http_listener *li)
{
	STACK_OF(X509) *cas = tls_load_certs(li->cfg.client_ca, HTTP_MAX_CERT_FILE);
	X509_STORE *store = SSL_CTX_get_cert_store(sc);
	char e[160];
	int rc = -1;

	if (!cas) {
		set_err(li->err, sizeof(li->err), "cannot read client CA %s", li->cfg.client_ca);
		goto out;
	}
	for (int i = 0; i < sk_X509_num(cas); i++) {
		X509 *ca = sk_X509_value(cas, i);

		if (X509_STORE_add_cert(store, ca) != 1 || SSL_CTX_add_client_CA(sc, ca) != 1) {
			set_err(li->err, sizeof(li->err), "client CA %s: %s", li->cfg.client_ca,
				tls_err_text(e, sizeof(e)));
			goto out;
		}
	}
	SSL_CTX_set_verify(sc, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT |
			   SSL_VERIFY_CLIENT_ONCE, NULL);
	SSL_CTX_set_verify_depth(sc, 4);
	rc = 0;
out:
	sk_X509_pop_free(cas, X509_free);
	return rc;
}

/* civetweb init_ssl callback: configures the listener's SSL_CTX completely
 * and returns 1 so that civetweb adds nothing (no ssl_certificate option is
 * set); -1 makes mg_start fail. Runs on the thread calling mg_start. */
static int on_init_ssl(void *ssl_ctx, void *user_data)
{
	SSL_CTX *sc = ssl_ctx;
	struct http_listener *li = user_data;
	unsigned char sid[SSL_MAX_SID_CTX_LENGTH];
	int sid_len;
	char e[160];

	if (SSL_CTX_set_min_proto_version(sc, TLS1_2_VERSION) != 1 ||
	    SSL_CTX_set_max_proto_version(sc, li->cfg.tls12_only ? TLS1_2_VERSION : 0) != 1 ||
	    SSL_CTX_set_cipher_list(sc, HTTP_TLS12_CIPHERS) != 1 ||
	    SSL_CTX_set_ciphersuites(sc, HTTP_TLS13_SUITES) != 1 ||
	    SSL_CTX_set1_groups_list(sc, HTTP_GROUPS) != 1) {
		set_err(li->err, sizeof(li->err), "TLS parameters refused: %s",
			tls_err_text(e, sizeof(e)));
		return -1;
	}
	if (tls_load_identity(sc, li) != 0)
		return -1;
	if (li->cfg.client_ca[0] && tls_require_client_cert(sc, li) != 0)
		return -1;
	/* Resumption: server-side cache and tickets. The session id context
	 * is what civetweb would have set had we returned 0; without it a
	 * resumed session is refused once client verification is on. */
	sid_len = snprintf((char *)sid, sizeof(sid), "smdp-%zu-%s", li->index, li->cfg.name);
	if (sid_len < 0 || (size_t)sid_len >= sizeof(sid))
		sid_len = (int)sizeof(sid) - 1;
	SSL_CTX_set_session_id_context(sc, sid, (unsigned)sid_len);
	SSL_CTX_set_session_cache_mode(sc, SSL_SESS_CACHE_SERVER);
	SSL_CTX_set_timeout(sc, HTTP_SESSION_TIMEOUT_S);
	SSL_CTX_clear_options(sc, SSL_OP_NO_TICKET);
	return 1;
}

/* civetweb's own messages (bind failures, failed TLS handshakes of clients);
 * start-up failures also come back through mg_start2's error text. */
static int on_log_message(const struct mg_connection *conn, const char *msg)
{
	struct mg_context *mg = conn ? mg_get_context(conn) : NULL;
	const struct http_listener *li = mg ? mg_get_user_data(mg) : NULL;

	log_warn("http %s: civetweb: %s", li ? li->cfg.name : "-", msg);
	return 1;
}

/* Copy s into out for logging: at most outsz-1 bytes, non-printables as '?'
 * (paths are URL-decoded client input). */
static const char *log_safe(const char *s, char *out, size_t outsz)
{
	size_t i = 0;

	for (; s && s[i] && i + 1 < outsz; i++)
		out[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	out[i] = '\0';
	return out;
}

static double mono_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* The slot of addr (created if insert and there is room), or NULL; with
 * srv->lim_mu held. NULL lets the client through uncounted: with every slot
 * busy, refusing strangers would be the worse failure. Slots are never emptied, so that a probe may stop at the
 * first never-used one; an idle slot is taken over by a new address. */
static struct addr_slot *addr_find(struct http_server *srv, const char *addr, int insert,
				   double now)
{
	struct addr_slot *reuse = NULL;
	uint32_t h = 2166136261u;       /* FNV-1a */

	for (const char *c = addr; *c; c++)
		h = (h ^ (uint8_t)*c) * 16777619u;
	for (size_t i = 0; i < HTTP_ADDR_SLOTS; i++) {
		struct addr_slot *s = &srv->slots[(h + i) % HTTP_ADDR_SLOTS];

		if (!strcmp(s->addr, addr))
			return s;
		if (!s->addr[0]) {
			if (!reuse)
				reuse = s;
			break;
		}
		if (!reuse && s->conns == 0 && now - s->seen > HTTP_ADDR_IDLE_S)
			reuse = s;
	}
	if (!insert || !reuse || strlen(addr) >= sizeof(reuse->addr))
		return NULL;
	memset(reuse, 0, sizeof(*reuse));
	str_copy(reuse->addr, sizeof(reuse->addr), addr);
	reuse->tokens = -1;             /* full bucket on first use */
	reuse->seen = now;
	reuse->refilled = now;
	return reuse;
}

/* civetweb connection_close callback: every connection ends here, also one
 * that never sent a request (then it was never counted). */
static void on_connection_close(const struct mg_connection *conn)
{
	struct mg_context *mg = mg_get_context(conn);
	struct http_listener *li = mg ? mg_get_user_data(mg) : NULL;
	const struct mg_request_info *ri = mg_get_request_info(conn);
	void *tag = mg_get_user_connection_data(conn);
	struct http_server *srv;
	struct addr_slot *s;

	if (!li || !ri || !li->srv->slots)
		return;
	srv = li->srv;
	if (tag != &srv->mark_counted && tag != &srv->mark_over)
		return;
	/* the worker's connection object is reused: no stale tag */
	mg_set_user_connection_data(conn, NULL);
	pthread_mutex_lock(&srv->lim_mu);
	s = addr_find(srv, ri->remote_addr, 0, 0);
	if (s && s->conns > 0) {
		s->conns--;
		s->seen = mono_s();
	}
	pthread_mutex_unlock(&srv->lim_mu);
}

/* 1 if the address may send one more request now (token bucket: li->burst
 * at once, refilled at li->rps), 0 if not. With srv->lim_mu held. */
static int rate_take(struct http_listener *li, struct addr_slot *s, double now)
{
	s->seen = now;
	if (li->rps <= 0)
		return 1;
	if (s->tokens < 0)
		s->tokens = li->burst;
	else
		s->tokens += (now - s->refilled) * li->rps;
	if (s->tokens > li->burst)
		s->tokens = li->burst;
	s->refilled = now;
	if (s->tokens < 1)
		return 0;
	s->tokens -= 1;
	return 1;
}

/* civetweb begin_request callback, before every request. The first request
 * of a connection counts it for its address (civetweb 1.15 never calls
 * init_connection for server connections, and resets the user connection
 * data of each new one): connections are counted from their first request
 * to their close; one that sends nothing is cut by request_timeout_ms. Over
 * the connection or request-rate limit of its address it answers 429 and
 * closes the connection (the body stays unread), returning 429; 0 lets the
 * request through to on_request. */
static int on_begin_request(struct mg_connection *conn)
{
	struct mg_context *mg = mg_get_context(conn);
	struct http_listener *li = mg ? mg_get_user_data(mg) : NULL;
	const struct mg_request_info *ri = mg_get_request_info(conn);
	void *tag = mg_get_user_connection_data(conn);
	struct http_server *srv;
	struct addr_slot *s;
	const char *why = NULL;
	unsigned long quiet = 0;
	int over_conns, log_now = 0, limit = 0;
	double now = mono_s();
	char body[160], hdr[256];
	int bl, hl;

	if (!li || !ri || !li->srv->slots)
		return 0;
	srv = li->srv;
	pthread_mutex_lock(&srv->lim_mu);
	s = addr_find(srv, ri->remote_addr, 1, now);
	if (s && !tag) {
		s->conns++;
		tag = li->conns_max > 0 && s->conns > li->conns_max ? &srv->mark_over :
		      &srv->mark_counted;
		mg_set_user_connection_data(conn, tag);
	}
	over_conns = tag == &srv->mark_over;
	if (s && over_conns) {
		why = "connections";
		limit = li->conns_max;
		if (now - s->log_conn >= HTTP_LIMIT_LOG_S) {
			log_now = 1;
			quiet = s->quiet_conn;
			s->quiet_conn = 0;
			s->log_conn = now;
		} else {
			s->quiet_conn++;
		}
	} else if (s && !rate_take(li, s, now)) {
		why = "requests per second";
		limit = li->rps;
		if (now - s->log_rate >= HTTP_LIMIT_LOG_S) {
			log_now = 1;
			quiet = s->quiet_rate;
			s->quiet_rate = 0;
			s->log_rate = now;
		} else {
			s->quiet_rate++;
		}
	}
	pthread_mutex_unlock(&srv->lim_mu);
	if (!why)
		return 0;
	if (log_now)
		log_warn("http %s: %s is over its limit of %d %s: answering 429 (%lu more "
			 "refusals in the last %d s went unlogged)", li->cfg.name, ri->remote_addr,
			 limit, why, quiet, HTTP_LIMIT_LOG_S);
	bl = snprintf(body, sizeof(body), "too many %s from your address (limit %d)\n", why,
		      limit);
	hl = snprintf(hdr, sizeof(hdr), "HTTP/1.1 429 Too Many Requests\r\nContent-Type: "
		      "text/plain\r\nContent-Length: %d\r\nRetry-After: 1\r\nConnection: "
		      "close\r\n\r\n", bl);
	mg_disable_connection_keep_alive(conn);
	if (bl > 0 && (size_t)bl < sizeof(body) && hl > 0 && (size_t)hl < sizeof(hdr) &&
	    mg_write(conn, hdr, (size_t)hl) == hl)
		mg_write(conn, body, (size_t)bl);
	return 429;
}

/* Oversized bodies up to this size are read and dropped before the 413. */
#define HTTP_DRAIN_MAX (4 * 1024 * 1024)

/* Read the request body into a NUL-terminated heap buffer. Returns 0, or the
 * HTTP status to answer with (400 truncated, 411 no length, 413 too large). */
static int read_body(struct mg_connection *conn, const struct mg_request_info *ri,
		     size_t max_body, uint8_t **out, size_t *out_len)
{
	const char *te = mg_get_header(conn, "Transfer-Encoding");
	uint8_t *b = NULL;
	size_t len = 0, cap;
	int st = 0, r;

	*out = NULL;
	*out_len = 0;
	if (ri->content_length >= 0) {
		if ((unsigned long long)ri->content_length > max_body) {
			/* Read and drop a moderately oversized body before the 413:
			 * closing with unread data makes TCP reset the connection,
			 * and the client may lose the answer. Larger ones are cut. */
			if ((unsigned long long)ri->content_length <= HTTP_DRAIN_MAX) {
				char sink[4096];
				long long left = ri->content_length;
				while (left > 0 && (r = mg_read(conn, sink, sizeof(sink))) > 0)
					left -= r;
			}
			st = 413;
			goto out;
		}
		cap = (size_t)ri->content_length;
		b = malloc(cap + 1);
		if (!b) {
			st = 500;
			goto out;
		}
		while (len < cap) {
			r = mg_read(conn, b + len, cap - len);
			if (r <= 0) {
				st = 400;
				goto out;
			}
			len += (size_t)r;
		}
	} else if (te && strstr(te, "chunked")) {
		/* Chunked: civetweb undoes the framing; read until it says 0. */
		cap = 0;
		for (;;) {
			if (len == cap) {
				size_t ncap = cap + HTTP_CHUNK;
				uint8_t *nb;

				if (cap > max_body) {
					st = 413;
					goto out;
				}
				nb = realloc(b, ncap + 1);
				if (!nb) {
					st = 500;
					goto out;
				}
				b = nb;
				cap = ncap;
			}
			r = mg_read(conn, b + len, cap - len);
			if (r < 0) {
				st = 400;
				goto out;
			}
			if (r == 0)
				break;
			len += (size_t)r;
		}
		if (len > max_body) {
			st = 413;
			goto out;
		}
	} else if (!strcmp(ri->request_method, "POST") || !strcmp(ri->request_method, "PUT")) {
		st = 411;
		goto out;
	} else {
		b = malloc(1);
		if (!b) {
			st = 500;
			goto out;
		}
	}
	b[len] = '\0';
	*out = b;
	*out_len = len;
	b = NULL;
out:
	free(b);
	return st;
}

/* Send status, headers and body of resp (the body only when the status and
 * the method allow one). -1 if the connection failed. */
static int send_response(struct mg_connection *conn, const struct http_response *resp,
			 int close_after, int head_only, size_t *sent)
{
	char hdr[512];
	int no_length = resp->status == 204 || resp->status == 304 || resp->status < 200;
	int no_body = no_length || head_only;
	int n;

	*sent = 0;
	n = snprintf(hdr, sizeof(hdr), "HTTP/1.1 %d %s\r\n%s%s%s%s%s%s",
		     resp->status, mg_get_response_code_text(conn, resp->status),
		     resp->content_type[0] ? "Content-Type: " : "", resp->content_type,
		     resp->content_type[0] ? "\r\n" : "",
		     resp->admin_protocol[0] ? "X-Admin-Protocol: " : "", resp->admin_protocol,
		     resp->admin_protocol[0] ? "\r\n" : "");
	if (n < 0 || (size_t)n >= sizeof(hdr))
		return -1;
	if (!no_length)
		n += snprintf(hdr + n, sizeof(hdr) - (size_t)n, "Content-Length: %zu\r\n",
			      resp->body.len);
	if ((size_t)n < sizeof(hdr))
		n += snprintf(hdr + n, sizeof(hdr) - (size_t)n, "%s\r\n",
			      close_after ? "Connection: close\r\n" : "");
	if ((size_t)n >= sizeof(hdr))
		return -1;
	/* header and body in one write, so in one TLS record and system call
	 * when they fit (an ES9+ answer nearly always does) */
	if (!no_body && resp->body.len && resp->body.len <= HTTP_ONE_WRITE) {
		size_t total = (size_t)n + resp->body.len;
		char *all = malloc(total);
		int ok;

		if (all) {
			memcpy(all, hdr, (size_t)n);
			memcpy(all + n, resp->body.p, resp->body.len);
			ok = mg_write(conn, all, total) == (int)total;
			free(all);
			if (!ok)
				return -1;
			*sent = resp->body.len;
			return 0;
		}
	}
	if (mg_write(conn, hdr, (size_t)n) != n)
		return -1;
	if (!no_body && resp->body.len &&
	    mg_write(conn, resp->body.p, resp->body.len) != (int)resp->body.len)
		return -1;
	*sent = no_body ? 0 : resp->body.len;
	return 0;
}

/* 1 if s can go into a header line as it is. */
static int header_value_ok(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

/* civetweb request handler for "/" and everything below: bounds and reads
 * the body, calls the application, sends its response, logs one line. */
static int on_request(struct mg_connection *conn, void *cbdata)
{
	struct http_listener *li = cbdata;
	struct http_server *srv = li->srv;
	const struct mg_request_info *ri = mg_get_request_info(conn);
	struct http_request req;
	struct http_response resp;
	struct timespec t0, t1;
	unsigned char *cert_der = NULL;
	uint8_t *body = NULL;
	size_t body_len = 0, sent = 0;
	char lpath[128];
	int close_after = 0, st;
	long ms;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	memset(&req, 0, sizeof(req));
	memset(&resp, 0, sizeof(resp));
	resp.status = 500;

	if (!ri->local_uri || ri->local_uri[0] != '/') {
		resp.status = 400;
		close_after = 1;
		goto send;
	}
	st = read_body(conn, ri, srv->max_body, &body, &body_len);
	if (st) {
		/* The rest of the body stays unread: the connection must end. */
		resp.status = st;
		close_after = 1;
		goto send;
	}
	if (ri->client_cert && ri->client_cert->peer_cert) {
		int n = i2d_X509((X509 *)ri->client_cert->peer_cert, &cert_der);

		if (n <= 0) {
			log_error("http %s: cannot encode the client certificate", li->cfg.name);
			goto send;
		}
		req.client_cert = cert_der;
		req.client_cert_len = (size_t)n;
	}
	req.listener = (int)li->index;
	req.port = ri->server_port;
	req.method = ri->request_method;
	req.path = ri->local_uri;
	req.content_type = mg_get_header(conn, "Content-Type");
	if (!req.content_type)
		req.content_type = "";
	req.admin_protocol = mg_get_header(conn, "X-Admin-Protocol");
	if (!req.admin_protocol)
		req.admin_protocol = "";
	req.remote_addr = ri->remote_addr;
	req.authorization = mg_get_header(conn, "Authorization");
	if (!req.authorization)
		req.authorization = "";
	req.body = body;
	req.body_len = body_len;
	srv->h(srv->ctx, &req, &resp);
	if (resp.status < 100 || resp.status > 599 || !header_value_ok(resp.content_type) ||
	    !header_value_ok(resp.admin_protocol)) {
		log_error("http %s: handler returned an invalid response (status %d)",
			  li->cfg.name, resp.status);
		buf_free(&resp.body);
		memset(&resp, 0, sizeof(resp));
		resp.status = 500;
	}
	if (resp.drop) {
		/* lab fault: the connection ends without a response (444, as
		 * nginx logs it, is only for our log line) */
		mg_disable_connection_keep_alive(conn);
		log_debug("http %s: %s %s -> dropped without answering", li->cfg.name,
			  ri->request_method, log_safe(ri->local_uri, lpath, sizeof(lpath)));
		st = 444;
		goto done;
	}
send:
	if (close_after)
		mg_disable_connection_keep_alive(conn);
	/* Usually the client went away (or the server is stopping): a warning. */
	if (send_response(conn, &resp, close_after, !strcmp(ri->request_method, "HEAD"),
			  &sent) != 0)
		log_warn("http %s: sending the response to %s failed", li->cfg.name,
			 ri->remote_addr);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (long)(t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	log_debug("http %s: %s %s -> %d, %zu bytes in, %zu bytes out, %ld ms", li->cfg.name,
		  ri->request_method, log_safe(ri->local_uri, lpath, sizeof(lpath)),
		  resp.status, body_len, sent, ms);
	st = resp.status;
done:
	buf_free(&resp.body);
	OPENSSL_free(cert_der);
	free(body);
	return st;
}

/* Start one civetweb context for listener li. 0 / -1 with err set. */
static int listener_start(struct http_listener *li, int num_threads, char *err, size_t errsz)
{
	struct mg_callbacks cb;
	struct mg_init_data init;
	struct mg_error_data mge;
	struct mg_server_port port;
	char ports[96], threads[16], mgerr[256], req_to[16];
	const char *opts[] = {
		"listening_ports", ports,
		"num_threads", threads,
		/* civetweb: the TLS handshake and the whole request head must
		 * arrive within this (cuts off slowloris clients) */
		"request_timeout_ms", req_to,
		"enable_keep_alive", "yes",
		"keep_alive_timeout_ms", HTTP_KEEPALIVE_MS,
		"max_request_size", HTTP_MAX_HEADERS_SIZE,
		"ssl_protocol_version", "4",   /* TLS 1.2+; on_init_ssl narrows it */
		"enable_auth_domain_check", "no",
		/* header and body go out as separate writes: without this,
		 * Nagle + delayed ACK add 40 ms to every keep-alive request */
		"tcp_nodelay", "1",
		NULL, NULL,
	};
	unsigned code = 0;
	int n;

	if (strchr(li->cfg.addr, ':'))
		n = snprintf(ports, sizeof(ports), "[%s]:%ds", li->cfg.addr, li->cfg.port);
	else
		n = snprintf(ports, sizeof(ports), "%s:%ds", li->cfg.addr, li->cfg.port);
	if (n < 0 || (size_t)n >= sizeof(ports) || li->cfg.port < 0 || li->cfg.port > 65535) {
		set_err(err, errsz, "listener %s: bad address %s", li->cfg.name, li->cfg.addr);
		return -1;
	}
	snprintf(threads, sizeof(threads), "%d", num_threads);
	snprintf(req_to, sizeof(req_to), "%d", li->request_timeout_ms);
	memset(&cb, 0, sizeof(cb));
	cb.init_ssl = on_init_ssl;
	cb.log_message = on_log_message;
	cb.connection_close = on_connection_close;
	cb.begin_request = on_begin_request;
	init.callbacks = &cb;
	init.user_data = li;
	init.configuration_options = opts;
	mgerr[0] = '\0';
	mge.code = &code;
	mge.text = mgerr;
	mge.text_buffer_size = sizeof(mgerr);
	li->mg = mg_start2(&init, &mge);
	if (!li->mg) {
		set_err(err, errsz, "listener %s on %s: %s", li->cfg.name, ports,
			li->err[0] ? li->err : mgerr[0] ? mgerr : "cannot start");
		return -1;
	}
	mg_set_request_handler(li->mg, "/", on_request, li);
	memset(&port, 0, sizeof(port));
	if (mg_get_server_ports(li->mg, 1, &port) == 1)
		li->port = port.port;
	log_info("http %s: listening on %s:%d%s%s", li->cfg.name, li->cfg.addr, li->port,
		 li->cfg.tls12_only ? " (TLS 1.2)" : "", li->cfg.client_ca[0] ? " (mutual TLS)" : "");
	return 0;
}

/* The effective limits of li from its configuration (0 = default, -1 = none). */
static void limits_apply(struct http_listener *li)
{
	const struct http_limits *l = &li->cfg.limits;

	li->conns_max = l->conns_per_addr == 0 ? HTTP_DEF_CONNS_PER_ADDR :
			l->conns_per_addr < 0 ? 0 : l->conns_per_addr;
	li->rps = l->rps == 0 ? HTTP_DEF_RPS : l->rps < 0 ? 0 : l->rps;
	/* burst 0: twice the rate (HTTP_DEF_BURST with the default rate) */
	li->burst = l->burst > 0 ? l->burst : l->rps == 0 ? HTTP_DEF_BURST : 2 * li->rps;
	if (li->burst < 1)
		li->burst = 1;
	li->request_timeout_ms = l->request_timeout_ms > 0 ? l->request_timeout_ms :
				 HTTP_DEF_REQUEST_TIMEOUT_MS;
}

/* Each listener is its own civetweb context (one certificate per SSL_CTX in
 * civetweb 1.15) with num_threads workers of its own: an idle keep-alive
 * connection occupies a worker, so listeners must not starve each other.
 * Call from one thread at a time (mg_init_library is not thread-safe). */
struct http_server *http_start(const struct http_listener_cfg *l, size_t n, int num_threads,
			       size_t max_body, http_handler h, void *ctx, char *err,
			       size_t errsz)
{
	struct http_server *s = NULL, *ret = NULL;
	unsigned feat;

	if (err && errsz)
		err[0] = '\0';
	if (!l || n == 0 || !h || num_threads < 1 || num_threads > HTTP_MAX_THREADS) {
		set_err(err, errsz, "http_start: invalid arguments");
		goto out;
	}
	s = calloc(1, sizeof(*s));
	if (!s || !(s->l = calloc(n, sizeof(*s->l)))) {
		set_err(err, errsz, "http_start: out of memory");
		goto out;
	}
	s->slots = calloc(HTTP_ADDR_SLOTS, sizeof(*s->slots));
	if (!s->slots || pthread_mutex_init(&s->lim_mu, NULL) != 0) {
		set_err(err, errsz, "http_start: out of memory");
		goto out;
	}
	s->lim_mu_inited = 1;
	s->h = h;
	s->ctx = ctx;
	s->max_body = max_body;
	s->n = n;
	/* civetweb dlopen()s libssl.so/libcrypto.so and, on OpenSSL 3, only
	 * gets TLS with the sslshim library linked in (STACK-NOTES): without it
	 * every HTTPS request would crash, so refuse to start. */
	feat = mg_init_library(MG_FEATURES_TLS);
	s->lib_inited = 1;
	if (!(feat & MG_FEATURES_TLS)) {
		set_err(err, errsz, "civetweb has no TLS: libssl.so/libcrypto.so not loadable or "
			"without SSL_get_peer_certificate (is the sslshim libssl.so next to the "
			"program?)");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		s->l[i].srv = s;
		s->l[i].index = i;
		s->l[i].cfg = l[i];
		s->l[i].port = -1;
		limits_apply(&s->l[i]);
		if (listener_start(&s->l[i], num_threads, err, errsz) != 0)
			goto out;
	}
	ret = s;
	s = NULL;
out:
	if (!ret && err && errsz)
		log_error("%s", err);
	http_stop(s);
	return ret;
}

int http_port(const struct http_server *s, size_t i)
{
	if (!s || i >= s->n || !s->l[i].mg)
		return -1;
	return s->l[i].port;
}

static void *stop_thread(void *arg)
{
	mg_stop(arg);
	return NULL;
}

/* mg_stop takes up to 2 s (civetweb polls its listening socket with that
 * quantum), so the contexts are stopped in parallel. */
void http_stop(struct http_server *s)
{
	pthread_t *th = NULL;
	int *started = NULL;

	if (!s)
		return;
	if (s->l && s->n > 1) {
		th = calloc(s->n, sizeof(*th));
		started = calloc(s->n, sizeof(*started));
	}
	for (size_t i = 0; s->l && i < s->n; i++) {
		if (!s->l[i].mg)
			continue;
		if (th && started && pthread_create(&th[i], NULL, stop_thread, s->l[i].mg) == 0)
			started[i] = 1;
		else
			mg_stop(s->l[i].mg);
	}
	for (size_t i = 0; th && started && i < s->n; i++)
		if (started[i])
			pthread_join(th[i], NULL);
	free(th);
	free(started);
	if (s->lib_inited)
		mg_exit_library();
	if (s->lim_mu_inited)
		pthread_mutex_destroy(&s->lim_mu);
	free(s->slots);
	free(s->l);
	free(s);
}
