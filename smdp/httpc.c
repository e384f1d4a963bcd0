/* httpc.c - a small HTTPS/1.1 client on OpenSSL for smdp-client, the tests
 * and the benchmark: one keep-alive connection per struct httpc, server
 * chain and host name verification, TLS session resumption on reconnect. */
#include "smdp.h"
#include "tls.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define HTTPC_TIMEOUT_MS   30000
#define HTTPC_HEAD_MAX     16384         /* status line + response headers */
#define HTTPC_LINE_MAX     8192          /* request line + Host + extra headers */
#define HTTPC_MAX_CA_FILE  (256 * 1024)  /* a CA bundle */
#define HTTPC_RBUF         16384         /* read buffer */

struct httpc {
	struct httpc_cfg cfg;
	SSL_CTX *ctx;
	SSL *ssl;               /* NULL when not connected */
	int fd;
	SSL_SESSION *sess;      /* latest resumable session from this server */
	uint8_t *rbuf;          /* HTTPC_RBUF bytes of read buffer */
	size_t rpos, rlen;
};

/* Why a response could not be read: decides whether a retry is safe. */
enum rd_err { RD_OK = 0, RD_STALE, RD_FAIL };

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

/* OpenSSL hands over every new session (TLS 1.3 tickets arrive after the
 * handshake); keep the latest for the next connection. Returns 1: we own it. */
static int on_new_session(SSL *ssl, SSL_SESSION *sess)
{
	struct httpc *c = SSL_get_app_data(ssl);

	if (!c || !SSL_SESSION_is_resumable(sess))
		return 0;
	SSL_SESSION_free(c->sess);
	c->sess = sess;
	return 1;
}

static int ctx_setup(struct httpc *c)
{
	const struct httpc_cfg *cfg = &c->cfg;
	STACK_OF(X509) *cas = NULL, *certs = NULL;
	EVP_PKEY *key = NULL;
	BIO *kb = NULL;
	char e[160];
	int rc = -1;

	c->ctx = SSL_CTX_new(TLS_client_method());
	if (!c->ctx)
		goto out;
	if (SSL_CTX_set_min_proto_version(c->ctx, TLS1_2_VERSION) != 1)
		goto out;
	/* OpenSSL 3.0 has brainpool in TLS 1.2 only (STACK-NOTES). */
	if ((cfg->tls12_only || cfg->brainpool) &&
	    SSL_CTX_set_max_proto_version(c->ctx, TLS1_2_VERSION) != 1)
		goto out;
	if (cfg->brainpool && SSL_CTX_set1_groups_list(c->ctx, "P-256:brainpoolP256r1") != 1)
		goto out;
	SSL_CTX_set_session_cache_mode(c->ctx, SSL_SESS_CACHE_CLIENT |
				       SSL_SESS_CACHE_NO_INTERNAL_STORE);
	SSL_CTX_sess_set_new_cb(c->ctx, on_new_session);
	if (cfg->ca_file[0]) {
		X509_STORE *st = SSL_CTX_get_cert_store(c->ctx);

		cas = tls_load_certs(cfg->ca_file, HTTPC_MAX_CA_FILE);
		if (!cas) {
			log_error("httpc: cannot read CA file %s", cfg->ca_file);
			goto out;
		}
		for (int i = 0; i < sk_X509_num(cas); i++)
			if (X509_STORE_add_cert(st, sk_X509_value(cas, i)) != 1)
				goto out;
		SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
	} else {
		log_warn("httpc: no CA file: the server certificate is not verified");
		SSL_CTX_set_verify(c->ctx, SSL_VERIFY_NONE, NULL);
	}
	if (cfg->client_cert[0]) {
		certs = tls_load_certs(cfg->client_cert, HTTPC_MAX_CA_FILE);
		if (!certs) {
			log_error("httpc: cannot read client certificate %s", cfg->client_cert);
			goto out;
		}
		if (SSL_CTX_use_certificate(c->ctx, sk_X509_value(certs, 0)) != 1)
			goto out;
		for (int i = 1; i < sk_X509_num(certs); i++)
			if (SSL_CTX_add1_chain_cert(c->ctx, sk_X509_value(certs, i)) != 1)
				goto out;
		kb = BIO_new_file(cfg->client_key, "r");
		key = kb ? PEM_read_bio_PrivateKey(kb, NULL, NULL, NULL) : NULL;
		if (!key) {
			log_error("httpc: cannot read client key %s", cfg->client_key);
			goto out;
		}
		if (SSL_CTX_use_PrivateKey(c->ctx, key) != 1 ||
		    SSL_CTX_check_private_key(c->ctx) != 1)
			goto out;
	}
	rc = 0;
out:
	if (rc != 0 && ERR_peek_error())
		log_error("httpc: TLS set-up failed: %s", tls_err_text(e, sizeof(e)));
	sk_X509_pop_free(cas, X509_free);
	sk_X509_pop_free(certs, X509_free);
	EVP_PKEY_free(key);
	BIO_free(kb);
	return rc;
}

/* Copies cfg; server_name "" means host, timeout 0 means 30 s. NULL if the
 * CA file, client certificate or key cannot be used (reason logged). Free
 * with httpc_free. No connection is made until the first post. */
struct httpc *httpc_new(const struct httpc_cfg *cfg)
{
	struct httpc *c = NULL, *ret = NULL;

	if (!cfg || !cfg->host[0] || cfg->port <= 0 || cfg->port > 65535) {
		log_error("httpc: invalid configuration");
		goto out;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		goto out;
	c->fd = -1;
	c->cfg = *cfg;
	if (!c->cfg.server_name[0])
		str_copy(c->cfg.server_name, sizeof(c->cfg.server_name), c->cfg.host);
	if (c->cfg.timeout_ms <= 0)
		c->cfg.timeout_ms = HTTPC_TIMEOUT_MS;
	c->rbuf = malloc(HTTPC_RBUF);
	if (!c->rbuf || ctx_setup(c) != 0)
		goto out;
	ret = c;
	c = NULL;
out:
	httpc_free(c);
	return ret;
}

/* Connected TCP socket to host:port within the timeout, or -1. */
static int tcp_connect(const struct httpc_cfg *cfg, char *err, size_t errsz)
{
	struct addrinfo hints, *res = NULL, *ai;
	char port[8];
	int fd = -1, e = 0, rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	snprintf(port, sizeof(port), "%d", cfg->port);
	rc = getaddrinfo(cfg->host, port, &hints, &res);
	if (rc != 0) {
		set_err(err, errsz, "cannot resolve %s: %s", cfg->host, gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		struct pollfd pfd;
		struct timeval tv;
		socklen_t elen = sizeof(e);
		int one = 1, fl;

		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0) {
			e = errno;
			continue;
		}
		fl = fcntl(fd, F_GETFL);
		fcntl(fd, F_SETFL, fl | O_NONBLOCK);
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
			e = 0;
		} else if (errno == EINPROGRESS) {
			pfd.fd = fd;
			pfd.events = POLLOUT;
			rc = poll(&pfd, 1, cfg->timeout_ms);
			if (rc == 0)
				e = ETIMEDOUT;
			else if (rc < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &elen) != 0)
				e = errno;
		} else {
			e = errno;
		}
		if (e == 0) {
			/* Blocking from now on; the timeouts bound every read/write. */
			fcntl(fd, F_SETFL, fl);
			tv.tv_sec = cfg->timeout_ms / 1000;
			tv.tv_usec = (cfg->timeout_ms % 1000) * 1000;
			setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
			setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
			setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
			break;
		}
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0)
		set_err(err, errsz, "cannot connect to %s:%d: %s", cfg->host, cfg->port,
			strerror(e ? e : ECONNREFUSED));
	return fd;
}

/* 1 if s is an IPv4 or IPv6 address literal. */
static int is_ip_literal(const char *s)
{
	unsigned char a[16];

	return inet_pton(AF_INET, s, a) == 1 || inet_pton(AF_INET6, s, a) == 1;
}

/* TCP + TLS handshake with SNI, chain and host name check, offering the
 * saved session. 0 / -1 with err set. */
static int connect_tls(struct httpc *c, char *err, size_t errsz)
{
	const struct httpc_cfg *cfg = &c->cfg;
	int ip = is_ip_literal(cfg->server_name);
	char e[160];
	long vr;
	int rc = -1;

	c->fd = tcp_connect(cfg, err, errsz);
	if (c->fd < 0)
		goto out;
	c->ssl = SSL_new(c->ctx);
	/* RFC 6066 3: no address literals in SNI */
	if (!c->ssl || SSL_set_fd(c->ssl, c->fd) != 1 ||
	    (!ip && SSL_set_tlsext_host_name(c->ssl, cfg->server_name) != 1)) {
		set_err(err, errsz, "TLS set-up failed: %s", tls_err_text(e, sizeof(e)));
		goto out;
	}
	SSL_set_app_data(c->ssl, c);
	if (cfg->ca_file[0]) {
		X509_VERIFY_PARAM *vp = SSL_get0_param(c->ssl);

		X509_VERIFY_PARAM_set_hostflags(vp, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
		if ((ip ? X509_VERIFY_PARAM_set1_ip_asc(vp, cfg->server_name) :
			  X509_VERIFY_PARAM_set1_host(vp, cfg->server_name, 0)) != 1) {
			set_err(err, errsz, "bad server name %s", cfg->server_name);
			goto out;
		}
	}
	if (c->sess)
		SSL_set_session(c->ssl, c->sess);
	if (SSL_connect(c->ssl) != 1) {
		vr = SSL_get_verify_result(c->ssl);
		if (vr != X509_V_OK)
			set_err(err, errsz, "TLS handshake with %s:%d (%s): certificate: %s",
				cfg->host, cfg->port, cfg->server_name,
				X509_verify_cert_error_string(vr));
		else
			set_err(err, errsz, "TLS handshake with %s:%d (%s) failed: %s", cfg->host,
				cfg->port, cfg->server_name, tls_err_text(e, sizeof(e)));
		goto out;
	}
	log_debug("httpc: connected to %s:%d (%s, %s, %s)", cfg->host, cfg->port,
		  SSL_get_version(c->ssl), SSL_get_cipher_name(c->ssl),
		  SSL_session_reused(c->ssl) ? "resumed" : "full handshake");
	c->rpos = c->rlen = 0;
	rc = 0;
out:
	ERR_clear_error();
	if (rc != 0)
		httpc_disconnect(c);
	return rc;
}

/* Write all n bytes. 0 / -1. */
static int tls_write(struct httpc *c, const void *p, size_t n)
{
	const uint8_t *q = p;

	while (n > 0) {
		int chunk = n > (1u << 30) ? (1 << 30) : (int)n;
		int w = SSL_write(c->ssl, q, chunk);

		if (w <= 0)
			return -1;
		q += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Refill the read buffer. >0 bytes, 0 on orderly close, -1 on error. */
static int fill(struct httpc *c)
{
	int r;

	c->rpos = 0;
	c->rlen = 0;
	r = SSL_read(c->ssl, c->rbuf, HTTPC_RBUF);
	if (r > 0) {
		c->rlen = (size_t)r;
		return r;
	}
	if (SSL_get_error(c->ssl, r) == SSL_ERROR_ZERO_RETURN)
		return 0;
	return -1; /* the OpenSSL error queue says why */
}

/* Read one CRLF- (or LF-) terminated line into line (NUL-terminated, CR/LF
 * stripped). Counts bytes into *total against max. 0, or -1 on EOF/error/
 * too long; *got_any tells whether any response byte arrived. */
static int read_line(struct httpc *c, char *line, size_t linesz, size_t *total, size_t max,
		     int *got_any)
{
	size_t n = 0;

	for (;;) {
		uint8_t ch;

		if (c->rpos == c->rlen && fill(c) <= 0)
			return -1;
		*got_any = 1;
		ch = c->rbuf[c->rpos++];
		if (++*total > max)
			return -1;
		if (ch == '\n')
			break;
		if (n + 1 >= linesz)
			return -1;
		line[n++] = (char)ch;
	}
	if (n && line[n - 1] == '\r')
		n--;
	line[n] = '\0';
	return 0;
}

/* Append exactly n body bytes to out (NULL: discard). 0 / -1. */
static int read_exact(struct httpc *c, size_t n, struct buf *out)
{
	while (n > 0) {
		size_t take;

		if (c->rpos == c->rlen && fill(c) <= 0)
			return -1;
		take = c->rlen - c->rpos;
		if (take > n)
			take = n;
		if (out && buf_append(out, c->rbuf + c->rpos, take) != 0)
			return -1;
		c->rpos += take;
		n -= take;
	}
	return 0;
}

/* Case-insensitive "Name:" match; returns the value with blanks skipped. */
static const char *header_value(const char *line, const char *name)
{
	size_t n = strlen(name);

	if (strncasecmp(line, name, n) != 0 || line[n] != ':')
		return NULL;
	line += n + 1;
	while (*line == ' ' || *line == '\t')
		line++;
	return line;
}

/* 1 if the comma-separated header value v lists token (any case). */
static int has_token(const char *v, const char *token)
{
	size_t n = strlen(token);

	while (*v) {
		while (*v == ' ' || *v == '\t' || *v == ',')
			v++;
		if (!strncasecmp(v, token, n) && (v[n] == '\0' || v[n] == ',' || v[n] == ' ' ||
						  v[n] == '\t'))
			return 1;
		while (*v && *v != ',')
			v++;
	}
	return 0;
}

/* What the status line and headers of one response said. */
struct resp_head {
	int status;
	long long clen;     /* Content-Length, -1 absent */
	int chunked;
	int must_close;     /* Connection: close or HTTP/1.0 */
};

/* Read a status line and headers into h (Content-Type into ct). line is a
 * scratch buffer of HTTPC_LINE_MAX. RD_STALE if not one byte arrived. */
static enum rd_err read_head(struct httpc *c, char *line, struct resp_head *h, char *ct,
			     size_t ctsz, char *err, size_t errsz)
{
	size_t total = 0;
	char e[160];
	int got_any = 0;

	memset(h, 0, sizeof(*h));
	h->clen = -1;
	if (read_line(c, line, HTTPC_LINE_MAX, &total, HTTPC_HEAD_MAX, &got_any) != 0) {
		tls_err_text(e, sizeof(e));
		set_err(err, errsz, "no response from %s:%d%s%s", c->cfg.host, c->cfg.port,
			e[0] ? ": " : "", e);
		return got_any ? RD_FAIL : RD_STALE;
	}
	/* "HTTP/1.x NNN reason" */
	if (strlen(line) < 12 || strncmp(line, "HTTP/1.", 7) != 0 || line[8] != ' ' ||
	    !isdigit((unsigned char)line[9]) || sscanf(line + 9, "%3d", &h->status) != 1 ||
	    h->status < 100 || h->status > 599) {
		set_err(err, errsz, "bad status line from %s:%d", c->cfg.host, c->cfg.port);
		return RD_FAIL;
	}
	h->must_close = line[7] == '0';
	for (;;) {
		const char *v;

		if (read_line(c, line, HTTPC_LINE_MAX, &total, HTTPC_HEAD_MAX, &got_any) != 0) {
			set_err(err, errsz, "bad or oversized response header");
			return RD_FAIL;
		}
		if (!line[0])
			return RD_OK;
		if ((v = header_value(line, "Content-Length")) != NULL) {
			char *end;

			errno = 0;
			h->clen = strtoll(v, &end, 10);
			if (errno || end == v || *end || h->clen < 0) {
				set_err(err, errsz, "bad Content-Length");
				return RD_FAIL;
			}
		} else if ((v = header_value(line, "Transfer-Encoding")) != NULL) {
			h->chunked = has_token(v, "chunked");
		} else if ((v = header_value(line, "Content-Type")) != NULL) {
			if (ct && ctsz)
				str_copy(ct, ctsz, v);
		} else if ((v = header_value(line, "Connection")) != NULL) {
			if (has_token(v, "close"))
				h->must_close = 1;
		}
	}
}

/* A chunked body (RFC 9112 7.1) appended to body, trailers skipped.
 * NULL or the reason it failed. */
static const char *read_chunked(struct httpc *c, char *line, struct buf *body)
{
	size_t total = 0;
	int got_any = 0;

	for (;;) {
		unsigned long long n;
		char *end;

		if (read_line(c, line, HTTPC_LINE_MAX, &total, SIZE_MAX, &got_any) != 0)
			return "truncated chunked body";
		n = strtoull(line, &end, 16);
		if (end == line || (*end && *end != ';'))
			return "bad chunk size";
		if (n == 0)
			break;
		if (n > SMDP_MAX_BODY || body->len + n > SMDP_MAX_BODY)
			return "response body too large";
		if (read_exact(c, (size_t)n, body) != 0 ||
		    read_line(c, line, HTTPC_LINE_MAX, &total, SIZE_MAX, &got_any) != 0 || line[0])
			return "truncated chunked body";
	}
	do {
		if (read_line(c, line, HTTPC_LINE_MAX, &total, SIZE_MAX, &got_any) != 0)
			return "truncated chunked body";
	} while (line[0]);
	return NULL;
}

/* A body delimited by the end of the connection, appended to body.
 * NULL or the reason it failed. */
static const char *read_to_eof(struct httpc *c, struct buf *body)
{
	for (;;) {
		size_t take;
		int r;

		if (c->rpos == c->rlen) {
			r = fill(c);
			if (r == 0)
				return NULL;
			if (r < 0)
				return "truncated response body";
		}
		take = c->rlen - c->rpos;
		if (body->len + take > SMDP_MAX_BODY)
			return "response body too large";
		if (buf_append(body, c->rbuf + c->rpos, take) != 0)
			return "out of memory";
		c->rpos += take;
	}
}

/* Read one final response (1xx interim responses skipped): status, body
 * (at most SMDP_MAX_BODY), content type, and whether the connection ends. */
static enum rd_err read_response(struct httpc *c, int *status, struct buf *body, char *ct,
				 size_t ctsz, int *must_close, char *err, size_t errsz)
{
	struct resp_head h;
	const char *why = NULL;
	char *line = malloc(HTTPC_LINE_MAX);
	enum rd_err rc = RD_FAIL;

	if (!line) {
		set_err(err, errsz, "out of memory");
		goto out;
	}
	do {
		rc = read_head(c, line, &h, ct, ctsz, err, errsz);
		if (rc != RD_OK)
			goto out;
	} while (h.status < 200);
	*status = h.status;
	*must_close = h.must_close;
	if (h.status == 204 || h.status == 304)
		why = NULL;
	else if (h.chunked)
		why = read_chunked(c, line, body);
	else if (h.clen > SMDP_MAX_BODY)
		why = "response body too large";
	else if (h.clen >= 0)
		why = read_exact(c, (size_t)h.clen, body) ? "truncated response body" : NULL;
	else {
		*must_close = 1;
		why = read_to_eof(c, body);
	}
	if (why) {
		set_err(err, errsz, "%s:%d: %s", c->cfg.host, c->cfg.port, why);
		rc = RD_FAIL;
	}
out:
	free(line);
	return rc;
}

/* Send the request on the current connection and read the answer. */
static enum rd_err exchange(struct httpc *c, const char *head, size_t head_len,
			    const uint8_t *body, size_t n, int *status, struct buf *resp, char *ct,
			    size_t ctsz, int *must_close, char *err, size_t errsz)
{
	char e[160];

	if (tls_write(c, head, head_len) != 0 || (n && tls_write(c, body, n) != 0)) {
		tls_err_text(e, sizeof(e));
		/* The server may have answered early and closed (413 for a
		 * body it will not read): that answer can still be read. */
		if (read_response(c, status, resp, ct, ctsz, must_close, NULL, 0) == RD_OK) {
			*must_close = 1;
			return RD_OK;
		}
		ERR_clear_error();
		buf_free(resp);
		set_err(err, errsz, "sending to %s:%d failed%s%s", c->cfg.host, c->cfg.port,
			e[0] ? ": " : "", e);
		/* A connection the server already closed fails here or on the
		 * first read; either way nothing was processed. */
		return RD_STALE;
	}
	return read_response(c, status, resp, ct, ctsz, must_close, err, errsz);
}

/* Block SIGPIPE on this thread while writing to a socket the peer may have
 * closed, so no process-wide signal disposition is needed (Linux has no
 * SO_NOSIGPIPE and OpenSSL writes with write(2)). */
static void sigpipe_block(sigset_t *old, int *pending_before)
{
	sigset_t set, pend;

	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &set, old);
	sigpending(&pend);
	*pending_before = sigismember(&pend, SIGPIPE);
}

static void sigpipe_restore(const sigset_t *old, int pending_before)
{
	sigset_t set, pend;
	struct timespec zero = { 0, 0 };

	sigpending(&pend);
	if (!pending_before && sigismember(&pend, SIGPIPE)) {
		sigemptyset(&set);
		sigaddset(&set, SIGPIPE);
		while (sigtimedwait(&set, NULL, &zero) < 0 && errno == EINTR)
			;
	}
	pthread_sigmask(SIG_SETMASK, old, NULL);
}

/* POST over the keep-alive connection; (re)connects as needed and retries
 * once, on a new connection, if a reused one turns out to be closed before
 * any response byte. Sends Host: server_name[:port], the content type,
 * extra_headers (CRLF-terminated lines or NULL) and Content-Length.
 * resp is replaced by the response body (at most SMDP_MAX_BODY). 0 / -1.
 * Not thread-safe for one struct httpc. */
int httpc_post(struct httpc *c, const char *path, const char *content_type,
	       const char *extra_headers, const uint8_t *body, size_t n, int *status,
	       struct buf *resp, char *ct, size_t ctsz, char *err, size_t errsz)
{
	char *head = NULL;
	char port[8] = "";
	const char *extra = extra_headers ? extra_headers : "";
	size_t elen = strlen(extra);
	sigset_t oldmask;
	int pending = 0, blocked = 0, v6, hl, must_close = 0, rc = -1;

	if (err && errsz)
		err[0] = '\0';
	if (ct && ctsz)
		ct[0] = '\0';
	if (!c || !path || path[0] != '/' || !content_type || !status || !resp ||
	    (n && !body)) {
		set_err(err, errsz, "httpc_post: invalid arguments");
		goto out;
	}
	buf_free(resp);
	*status = 0;
	head = malloc(HTTPC_LINE_MAX);
	if (!head) {
		set_err(err, errsz, "out of memory");
		goto out;
	}
	if (c->cfg.port != 443)
		snprintf(port, sizeof(port), ":%d", c->cfg.port);
	v6 = strchr(c->cfg.server_name, ':') != NULL;
	hl = snprintf(head, HTTPC_LINE_MAX,
		      "POST %s HTTP/1.1\r\nHost: %s%s%s%s\r\nUser-Agent: smdp-httpc\r\n"
		      "Content-Type: %s\r\n%s%sContent-Length: %zu\r\n\r\n",
		      path, v6 ? "[" : "", c->cfg.server_name, v6 ? "]" : "", port, content_type,
		      extra, (elen && extra[elen - 1] != '\n') ? "\r\n" : "", n);
	if (hl < 0 || hl >= HTTPC_LINE_MAX || strpbrk(path, "\r\n ") ||
	    strpbrk(content_type, "\r\n")) {
		set_err(err, errsz, "request line or headers too long or malformed");
		goto out;
	}
	sigpipe_block(&oldmask, &pending);
	blocked = 1;
	for (int attempt = 0; attempt < 2; attempt++) {
		int reused = c->ssl != NULL;
		enum rd_err r;

		if (!reused && connect_tls(c, err, errsz) != 0)
			break;
		buf_free(resp);
		r = exchange(c, head, (size_t)hl, body, n, status, resp, ct, ctsz, &must_close,
			     err, errsz);
		if (r == RD_OK) {
			rc = 0;
			break;
		}
		httpc_disconnect(c);
		if (r != RD_STALE || !reused)
			break;
		log_debug("httpc: %s:%d closed the idle connection, reconnecting", c->cfg.host,
			  c->cfg.port);
	}
	if (rc == 0 && must_close)
		httpc_disconnect(c);
	if (rc == 0 && err && errsz)
		err[0] = '\0'; /* a retried first attempt left its reason */
out:
	if (blocked)
		sigpipe_restore(&oldmask, pending);
	ERR_clear_error();
	if (rc != 0 && resp && status) {
		buf_free(resp);
		*status = 0;
	}
	free(head);
	return rc;
}

void httpc_disconnect(struct httpc *c)
{
	if (!c)
		return;
	if (c->ssl) {
		sigset_t oldmask;
		int pending;

		sigpipe_block(&oldmask, &pending);
		/* One close_notify without waiting for the answer; a failure
		 * only means the peer is gone already. */
		SSL_shutdown(c->ssl);
		ERR_clear_error();
		sigpipe_restore(&oldmask, pending);
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->rpos = c->rlen = 0;
}

void httpc_free(struct httpc *c)
{
	if (!c)
		return;
	httpc_disconnect(c);
	SSL_SESSION_free(c->sess);
	SSL_CTX_free(c->ctx);
	free(c->rbuf);
	free(c);
}
