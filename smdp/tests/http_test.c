/* http_test.c - tests of http.c (civetweb HTTPS listeners) and httpc.c
 * against the SGP.26 DPtls certificates, a client PKI made at run time with
 * the openssl CLI, and openssl s_client as an independent TLS peer.
 * Run from the repository root (it reads certs/sgp26-*). */
#define _GNU_SOURCE /* RTLD_NEXT: counts the client's TLS handshakes */
#include "smdp.h"

#include <dlfcn.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define FQDN      "testsmdpplus1.example.com"
#define NIST_DIR  "certs/sgp26-nist/"
#define BRP_DIR   "certs/sgp26-brp/"
#define MAX_BODY  (16 * 1024)
#define BIG_BODY  (1024 * 1024)
#define OUT_MAX   (256 * 1024)

static int n_pass, n_fail;

static void check(int ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void check(int ok, const char *fmt, ...)
{
	va_list ap;

	printf("%s - ", ok ? "ok" : "not ok");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	if (ok)
		n_pass++;
	else
		n_fail++;
}

/* Handshake counter: every SSL_connect of httpc passes through here (the
 * executable's definition wins over libssl's), and OpenSSL itself says
 * whether the session was resumed. */
static pthread_mutex_t hs_mu = PTHREAD_MUTEX_INITIALIZER;
static int hs_count, hs_resumed;

int SSL_connect(SSL *s)
{
	int (*real)(SSL *) = (int (*)(SSL *))dlsym(RTLD_NEXT, "SSL_connect");
	int r = real(s);

	pthread_mutex_lock(&hs_mu);
	hs_count++;
	if (r == 1 && SSL_session_reused(s))
		hs_resumed++;
	pthread_mutex_unlock(&hs_mu);
	return r;
}

static void hs_get(int *count, int *resumed)
{
	pthread_mutex_lock(&hs_mu);
	*count = hs_count;
	*resumed = hs_resumed;
	pthread_mutex_unlock(&hs_mu);
}

/* What the handler saw, guarded by mu (handlers run on worker threads). */
struct seen {
	pthread_mutex_t mu;
	int calls;
	int listener;
	char method[16], path[256], ct[128], ap[64];
	size_t body_len;
	struct buf cert;
};

static void handler(void *ctx, const struct http_request *req, struct http_response *resp)
{
	struct seen *s = ctx;

	pthread_mutex_lock(&s->mu);
	s->calls++;
	s->listener = req->listener;
	snprintf(s->method, sizeof(s->method), "%s", req->method);
	snprintf(s->path, sizeof(s->path), "%s", req->path);
	snprintf(s->ct, sizeof(s->ct), "%s", req->content_type);
	snprintf(s->ap, sizeof(s->ap), "%s", req->admin_protocol);
	s->body_len = req->body_len;
	buf_free(&s->cert);
	if (req->client_cert)
		buf_set(&s->cert, req->client_cert, req->client_cert_len);
	pthread_mutex_unlock(&s->mu);

	if (!strcmp(req->path, "/nocontent")) {
		resp->status = 204;
		buf_set(&resp->body, "must not be sent", 16);
		return;
	}
	resp->status = 200;
	snprintf(resp->content_type, sizeof(resp->content_type), "application/json");
	snprintf(resp->admin_protocol, sizeof(resp->admin_protocol), "gsma/rsp/v2.2.0");
	/* body[body_len] must be the promised NUL */
	if (req->body[req->body_len] == '\0')
		buf_set(&resp->body, req->body, req->body_len);
}

static int seen_calls(struct seen *s)
{
	int n;

	pthread_mutex_lock(&s->mu);
	n = s->calls;
	pthread_mutex_unlock(&s->mu);
	return n;
}

/* Run a shell command; its exit status, or -1. */
static int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int run(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	st = system(cmd);
	return (st != -1 && WIFEXITED(st)) ? WEXITSTATUS(st) : -1;
}

/* Run a command and collect its stdout+stderr (NUL-terminated) in out.
 * Returns the exit status or -1. */
static int capture(struct buf *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int capture(struct buf *out, const char *fmt, ...)
{
	char cmd[2048];
	char chunk[4096];
	va_list ap;
	FILE *p;
	size_t r;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	buf_free(out);
	p = popen(cmd, "r");
	if (!p)
		return -1;
	while ((r = fread(chunk, 1, sizeof(chunk), p)) > 0)
		if (out->len + r < OUT_MAX)
			buf_append(out, chunk, r);
	buf_append(out, "", 1);
	st = pclose(p);
	return (st != -1 && WIFEXITED(st)) ? WEXITSTATUS(st) : -1;
}

static int contains(const struct buf *b, const char *s)
{
	return b->p && strstr((const char *)b->p, s) != NULL;
}

/* A CA, a client certificate from it (PEM + DER), and a second CA with its
 * own client certificate, all P-256, in dir. 0 / -1. */
static int make_client_pki(const char *dir)
{
	FILE *f;
	char path[512];

	snprintf(path, sizeof(path), "%s/ext.cnf", dir);
	f = fopen(path, "w");
	if (!f)
		return -1;
	fprintf(f, "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n"
		"extendedKeyUsage=clientAuth\n");
	fclose(f);
	for (int i = 0; i < 2; i++) {
		const char *ca = i ? "other" : "ca", *cl = i ? "foreign" : "client";

		if (run("cd %s && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 "
			"-nodes -keyout %s.key -out %s.pem -days 2 -subj '/CN=smdp test %s CA' "
			"-addext basicConstraints=critical,CA:TRUE "
			"-addext keyUsage=critical,keyCertSign >/dev/null 2>&1", dir, ca, ca, ca) ||
		    run("cd %s && openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
			"-keyout %s.key -out %s.csr -subj '/CN=%s operator' >/dev/null 2>&1",
			dir, cl, cl, cl) ||
		    run("cd %s && openssl x509 -req -in %s.csr -CA %s.pem -CAkey %s.key "
			"-CAcreateserial -days 2 -extfile ext.cnf -out %s.pem >/dev/null 2>&1",
			dir, cl, ca, ca, cl) ||
		    run("cd %s && openssl x509 -in %s.pem -outform DER -out %s.der", dir, cl, cl))
			return -1;
	}
	return 0;
}

static struct httpc *client(int port, const char *ca, const char *name, int brainpool,
			    const char *cert, const char *key)
{
	struct httpc_cfg cfg;

	memset(&cfg, 0, sizeof(cfg));
	snprintf(cfg.host, sizeof(cfg.host), "127.0.0.1");
	cfg.port = port;
	snprintf(cfg.server_name, sizeof(cfg.server_name), "%s", name);
	snprintf(cfg.ca_file, sizeof(cfg.ca_file), "%s", ca);
	cfg.brainpool = brainpool;
	cfg.tls12_only = brainpool;
	if (cert) {
		snprintf(cfg.client_cert, sizeof(cfg.client_cert), "%s", cert);
		snprintf(cfg.client_key, sizeof(cfg.client_key), "%s", key);
	}
	cfg.timeout_ms = 10000;
	return httpc_new(&cfg);
}

/* POST body to path; returns the status (or -1) and the response body. */
static int post(struct httpc *c, const char *path, const char *body, size_t n,
		struct buf *resp, char *ct, size_t ctsz, char *err, size_t errsz)
{
	int status = 0;

	if (httpc_post(c, path, "application/json", "X-Admin-Protocol: gsma/rsp/v2.2.0\r\n",
		       (const uint8_t *)body, n, &status, resp, ct, ctsz, err, errsz) != 0)
		return -1;
	return status;
}

/* Raw HTTP request text sent through s_client; out gets the answer. */
static int raw_request(int port, const char *dir, const char *req, size_t reqlen,
		       struct buf *out)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/req.txt", dir);
	f = fopen(path, "wb");
	if (!f)
		return -1;
	fwrite(req, 1, reqlen, f);
	fclose(f);
	return capture(out, "timeout 20 openssl s_client -quiet -ign_eof -connect 127.0.0.1:%d "
		       "-servername " FQDN " < %s 2>/dev/null", port, path);
}

static void fill_listener(struct http_listener_cfg *l, const char *name, const char *dir,
			  int port)
{
	memset(l, 0, sizeof(*l));
	snprintf(l->name, sizeof(l->name), "%s", name);
	snprintf(l->addr, sizeof(l->addr), "127.0.0.1");
	l->port = port;
	snprintf(l->cert, sizeof(l->cert), "%sdptls.der", dir);
	snprintf(l->key, sizeof(l->key), "%sdptls.key.pem", dir);
}

int main(void)
{
	char tmpl[] = "/tmp/http_test.XXXXXX";
	char *dir = mkdtemp(tmpl);
	struct http_listener_cfg l[3], bad;
	struct seen seen;
	struct http_server *srv = NULL, *srv2 = NULL;
	struct httpc *c = NULL, *c2 = NULL;
	struct buf resp = { 0 }, out = { 0 }, der = { 0 };
	char err[512], ct[64], path[256], ca_pem[256], client_pem[256], client_key[256];
	char foreign_pem[256], foreign_key[256];
	char *big = NULL, *hugehdr = NULL;
	int p_nist, p_brp, p_mtls, st, calls, hs0, rs0, hs1, rs1;

	memset(&seen, 0, sizeof(seen));
	pthread_mutex_init(&seen.mu, NULL);
	log_set_level(getenv("HTTP_TEST_DEBUG") ? LOG_DEBUG : LOG_ERROR);
	if (!dir || make_client_pki(dir) != 0) {
		check(0, "client PKI generated with the openssl CLI");
		goto out;
	}
	snprintf(ca_pem, sizeof(ca_pem), "%s/ca.pem", dir);
	snprintf(client_pem, sizeof(client_pem), "%s/client.pem", dir);
	snprintf(client_key, sizeof(client_key), "%s/client.key", dir);
	snprintf(foreign_pem, sizeof(foreign_pem), "%s/foreign.pem", dir);
	snprintf(foreign_key, sizeof(foreign_key), "%s/foreign.key", dir);

	fill_listener(&l[0], "nist", NIST_DIR, 0);
	fill_listener(&l[1], "brainpool", BRP_DIR, 0);
	l[1].tls12_only = 1;
	fill_listener(&l[2], "es2", NIST_DIR, 0);
	/* PEM this time, and the CI as an extra chain certificate */
	snprintf(l[2].cert, sizeof(l[2].cert), NIST_DIR "dptls.pem");
	snprintf(l[2].chain, sizeof(l[2].chain), NIST_DIR "ci.pem");
	snprintf(l[2].client_ca, sizeof(l[2].client_ca), "%s", ca_pem);

	/* A certificate file that does not exist must stop the start. */
	bad = l[0];
	snprintf(bad.cert, sizeof(bad.cert), "%s/missing.der", dir);
	err[0] = '\0';
	srv = http_start(&bad, 1, 2, MAX_BODY, handler, &seen, err, sizeof(err));
	check(!srv && strstr(err, "missing.der"), "missing certificate refused (%s)", err);
	http_stop(srv);
	bad = l[0];
	snprintf(bad.key, sizeof(bad.key), BRP_DIR "dptls.key.pem");
	srv = http_start(&bad, 1, 2, MAX_BODY, handler, &seen, err, sizeof(err));
	check(!srv && strstr(err, "does not match"), "key of another certificate refused (%s)",
	      err);
	http_stop(srv);

	srv = http_start(l, 3, 4, MAX_BODY, handler, &seen, err, sizeof(err));
	check(srv != NULL, "http_start with three listeners on port 0 (%s)", srv ? "" : err);
	if (!srv)
		goto out;
	p_nist = http_port(srv, 0);
	p_brp = http_port(srv, 1);
	p_mtls = http_port(srv, 2);
	check(p_nist > 0 && p_brp > 0 && p_mtls > 0 && p_nist != p_brp && p_brp != p_mtls,
	      "http_port gives the bound ports (%d %d %d)", p_nist, p_brp, p_mtls);
	check(http_port(srv, 3) == -1 && http_port(NULL, 0) == -1, "http_port out of range is -1");

	/* The same port twice cannot be bound. */
	bad = l[0];
	bad.port = p_nist;
	srv2 = http_start(&bad, 1, 2, MAX_BODY, handler, &seen, err, sizeof(err));
	check(!srv2 && err[0], "port in use refused (%s)", err);
	http_stop(srv2);
	srv2 = NULL;

	/* ES9+ over NIST: chain to the SGP.26 CI (PEM), SNI and host name. */
	c = client(p_nist, NIST_DIR "ci.pem", FQDN, 0, NULL, NULL);
	hs_get(&hs0, &rs0);
	st = post(c, "/gsma/rsp2/es9plus/initiateAuthentication", "{\"x\":1}", 7, &resp, ct,
		  sizeof(ct), err, sizeof(err));
	check(st == 200 && resp.len == 7 && !memcmp(resp.p, "{\"x\":1}", 7),
	      "NIST listener echoes the body (status %d, %s)", st, err);
	check(!strcmp(ct, "application/json"), "response Content-Type reaches the client (%s)", ct);
	pthread_mutex_lock(&seen.mu);
	check(!strcmp(seen.method, "POST") &&
	      !strcmp(seen.path, "/gsma/rsp2/es9plus/initiateAuthentication") &&
	      !strcmp(seen.ct, "application/json") && !strcmp(seen.ap, "gsma/rsp/v2.2.0") &&
	      seen.listener == 0 && seen.cert.len == 0,
	      "handler sees method, path, Content-Type, X-Admin-Protocol, listener, no cert");
	pthread_mutex_unlock(&seen.mu);
	st = post(c, "/gsma/rsp2/es9plus/authenticateClient", "{\"y\":2}", 7, &resp, NULL, 0,
		  err, sizeof(err));
	hs_get(&hs1, &rs1);
	check(st == 200 && hs1 - hs0 == 1, "keep-alive: two posts, one TLS connection (%d)",
	      hs1 - hs0);

	/* Body limits. */
	big = malloc(BIG_BODY);
	if (!big)
		goto out;
	memset(big, 'a', BIG_BODY);
	st = post(c, "/echo", big, MAX_BODY, &resp, NULL, 0, err, sizeof(err));
	check(st == 200 && resp.len == MAX_BODY, "body of exactly max_body accepted (%d)", st);
	calls = seen_calls(&seen);
	st = post(c, "/echo", big, MAX_BODY + 1, &resp, NULL, 0, err, sizeof(err));
	check(st == 413 && seen_calls(&seen) == calls, "body above max_body: 413, handler not "
	      "called (status %d, %s)", st, err);
	st = post(c, "/echo", "{}", 2, &resp, NULL, 0, err, sizeof(err));
	check(st == 200, "client continues after the server closed (status %d)", st);
	st = post(c, "/echo", big, BIG_BODY, &resp, NULL, 0, err, sizeof(err));
	check(st == 413 && seen_calls(&seen) == calls + 1,
	      "1 MB body: the early 413 still reaches the client (status %d, %s)", st, err);

	st = post(c, "/nocontent", "{}", 2, &resp, ct, sizeof(ct), err, sizeof(err));
	check(st == 204 && resp.len == 0, "204 response has no body (%d, %zu)", st, resp.len);

	/* Resumption: a new connection offers the ticket of the previous one. */
	httpc_disconnect(c);
	hs_get(&hs0, &rs0);
	st = post(c, "/echo", "{}", 2, &resp, NULL, 0, err, sizeof(err));
	hs_get(&hs1, &rs1);
	check(st == 200 && hs1 - hs0 == 1 && rs1 - rs0 == 1,
	      "reconnect after httpc_disconnect resumes the TLS session");

	/* Server authentication failures. */
	c2 = client(p_nist, NIST_DIR "ci.pem", "wrong.example.com", 0, NULL, NULL);
	st = post(c2, "/echo", "{}", 2, &resp, NULL, 0, err, sizeof(err));
	check(st == -1 && strstr(err, "mismatch"), "wrong server name fails verification (%s)",
	      err);
	httpc_free(c2);
	c2 = client(p_nist, BRP_DIR "ci.der", FQDN, 0, NULL, NULL);
	st = post(c2, "/echo", "{}", 2, &resp, NULL, 0, err, sizeof(err));
	check(st == -1 && strstr(err, "certificate"), "wrong CA fails verification (%s)", err);
	httpc_free(c2);
	c2 = client(p_nist, NIST_DIR "ci.pem", "127.0.0.1", 0, NULL, NULL);
	st = post(c2, "/echo", "{}", 2, &resp, NULL, 0, err, sizeof(err));
	check(st == -1 && strstr(err, "IP address mismatch"),
	      "address as server name is checked against the certificate (%s)", err);
	httpc_free(c2);

	/* Brainpool: TLS 1.2, brainpoolP256r1 offered, CI given as DER. */
	c2 = client(p_brp, BRP_DIR "ci.der", FQDN, 1, NULL, NULL);
	st = post(c2, "/gsma/rsp2/es9plus/initiateAuthentication", "{\"b\":1}", 7, &resp, NULL,
		  0, err, sizeof(err));
	check(st == 200 && resp.len == 7 && !memcmp(resp.p, "{\"b\":1}", 7),
	      "brainpool listener echoes the body (status %d, %s)", st, err);
	httpc_free(c2);
	c2 = client(p_brp, BRP_DIR "ci.der", FQDN, 0, NULL, NULL);
	st = post(c2, "/echo", "{}", 2, &resp, NULL, 0, err, sizeof(err));
	check(st == -1, "brainpool listener refuses a client without the brainpool group");
	httpc_free(c2);

	/* Mutual TLS (ES2+). */
	c2 = client(p_mtls, NIST_DIR "ci.pem", FQDN, 0, client_pem, client_key);
	snprintf(path, sizeof(path), "%s/client.der", dir);
	st = post(c2, "/gsma/rsp2/es2plus/downloadOrder", "{}", 2, &resp, NULL, 0, err,
		  sizeof(err));
	pthread_mutex_lock(&seen.mu);
	check(st == 200 && file_read(path, SMDP_MAX_CERT, &der) == 0 && seen.listener == 2 &&
	      seen.cert.len == der.len && !memcmp(seen.cert.p, der.p, der.len),
	      "mutual TLS: handler gets the client certificate DER (status %d, %s)", st, err);
	pthread_mutex_unlock(&seen.mu);
	httpc_free(c2);
	calls = seen_calls(&seen);
	c2 = client(p_mtls, NIST_DIR "ci.pem", FQDN, 0, NULL, NULL);
	st = post(c2, "/gsma/rsp2/es2plus/downloadOrder", "{}", 2, &resp, NULL, 0, err,
		  sizeof(err));
	check(st == -1, "mutual TLS: no client certificate, no request (%s)", err);
	httpc_free(c2);
	c2 = client(p_mtls, NIST_DIR "ci.pem", FQDN, 0, foreign_pem, foreign_key);
	st = post(c2, "/gsma/rsp2/es2plus/downloadOrder", "{}", 2, &resp, NULL, 0, err,
		  sizeof(err));
	check(st == -1 && seen_calls(&seen) == calls,
	      "mutual TLS: certificate of another CA refused (%s)", err);
	httpc_free(c2);
	c2 = NULL;

	/* openssl s_client as the peer. */
	st = capture(&out, "openssl s_client -connect 127.0.0.1:%d -servername " FQDN
		     " -tls1_3 </dev/null 2>&1", p_brp);
	check(st != 0 && !contains(&out, "Protocol  : TLSv1.3"),
	      "s_client: TLS 1.3 to the brainpool listener fails");
	st = capture(&out, "openssl s_client -connect 127.0.0.1:%d -servername " FQDN
		     " -tls1_2 -groups brainpoolP256r1 -CAfile " BRP_DIR "ci.pem "
		     "-verify_hostname " FQDN " -verify_return_error </dev/null 2>&1", p_brp);
	check(st == 0 && contains(&out, "Protocol  : TLSv1.2") &&
	      contains(&out, "Verification: OK"),
	      "s_client: TLS 1.2 with brainpoolP256r1 works and verifies");
	st = capture(&out, "openssl s_client -connect 127.0.0.1:%d -showcerts -cert %s -key %s "
		     "</dev/null 2>&1", p_mtls, client_pem, client_key);
	check(st == 0 && contains(&out, " 0 s:O = ACME, CN = " FQDN) &&
	      contains(&out, " 1 s:CN = Test CI"),
	      "s_client: PEM certificate plus configured chain are sent");
	st = capture(&out, "openssl s_client -connect 127.0.0.1:%d -tls1_1 </dev/null 2>&1",
		     p_nist);
	check(st != 0, "s_client: TLS 1.1 refused");
	st = capture(&out, "openssl s_client -connect 127.0.0.1:%d -tls1_2 -cipher "
		     "ECDHE-ECDSA-AES256-GCM-SHA384 </dev/null 2>&1", p_nist);
	check(st != 0, "s_client: TLS 1.2 suite outside SGP.22 2.6.6.1 refused");
	st = capture(&out, "openssl s_client -connect 127.0.0.1:%d -tls1_2 -cipher "
		     "ECDHE-ECDSA-AES128-SHA256 </dev/null 2>&1", p_nist);
	check(st == 0 && contains(&out, "Cipher    : ECDHE-ECDSA-AES128-SHA256"),
	      "s_client: TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256 accepted");
	st = capture(&out, "openssl s_client -connect 127.0.0.1:%d -tls1_2 -reconnect "
		     "</dev/null 2>&1", p_nist);
	check(st == 0 && contains(&out, "Reused, TLSv1.2"),
	      "s_client: TLS 1.2 session resumed from the server cache");

	/* Raw requests: chunked body, missing length, oversized headers. */
	calls = seen_calls(&seen);
	{
		static const char req[] = "POST /chunked HTTP/1.1\r\nHost: " FQDN "\r\n"
			"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
			"Connection: close\r\n\r\n5\r\n{\"ch\"\r\n5\r\n:\"ok\"\r\n1\r\n}\r\n0\r\n\r\n";

		raw_request(p_nist, dir, req, sizeof(req) - 1, &out);
		check(contains(&out, "HTTP/1.1 200") && contains(&out, "{\"ch\":\"ok\"}") &&
		      seen_calls(&seen) == calls + 1, "chunked request body is read and echoed");
	}
	calls = seen_calls(&seen);
	{
		static const char req[] = "POST /nolength HTTP/1.1\r\nHost: " FQDN "\r\n"
			"Content-Type: application/json\r\nConnection: close\r\n\r\n{}";

		raw_request(p_nist, dir, req, sizeof(req) - 1, &out);
		check(contains(&out, "HTTP/1.1 411") && seen_calls(&seen) == calls,
		      "POST without Content-Length: 411, handler not called");
	}
	hugehdr = malloc(40000);
	if (hugehdr) {
		int n = snprintf(hugehdr, 40000, "POST /huge HTTP/1.1\r\nHost: " FQDN "\r\nX-Pad: ");

		memset(hugehdr + n, 'p', 30000);
		n += 30000;
		n += snprintf(hugehdr + n, 40000 - (size_t)n, "\r\nContent-Length: 2\r\n"
			      "Connection: close\r\n\r\n{}");
		raw_request(p_nist, dir, hugehdr, (size_t)n, &out);
		check(!contains(&out, "HTTP/1.1 200") && seen_calls(&seen) == calls,
		      "headers above max_request_size refused before the handler");
	}

	/* The server goes away under a kept-alive connection: the client
	 * reconnects once, transparently. */
	st = post(c, "/echo", "{}", 2, &resp, NULL, 0, err, sizeof(err));
	check(st == 200, "kept-alive connection reused after the s_client checks (%d, %s)", st,
	      err);
	http_stop(srv);
	srv = NULL;
	l[0].port = p_nist;
	srv = http_start(l, 1, 2, MAX_BODY, handler, &seen, err, sizeof(err));
	check(srv != NULL, "restart on the same fixed port (%s)", srv ? "" : err);
	hs_get(&hs0, &rs0);
	st = post(c, "/echo", "{\"r\":1}", 7, &resp, NULL, 0, err, sizeof(err));
	hs_get(&hs1, &rs1);
	check(st == 200 && resp.len == 7 && hs1 - hs0 == 1,
	      "closed keep-alive connection: one transparent reconnect (status %d, %s)", st, err);
out:
	httpc_free(c);
	httpc_free(c2);
	http_stop(srv);
	buf_free(&resp);
	buf_free(&out);
	buf_free(&der);
	buf_free(&seen.cert);
	free(big);
	free(hugehdr);
	if (dir)
		run("rm -rf '%s'", dir);
	printf("%d passed, %d failed\n", n_pass, n_fail);
	return n_fail ? 1 : 0;
}
