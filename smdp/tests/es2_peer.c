/* es2_peer.c - a test operator endpoint for the ES2+ end-to-end test: an
 * HTTPS server (http.c, mutual TLS) receiving handleDownloadProgressInfo
 * (SGP.22 5.3.5) and appending one line per notification to a file, in
 * arrival order, for the script to compare with what it expects:
 *   n=<k> point=<id> status=<status> code=<subject>/<reason> iccid=<ICCID>
 *   eid=<EID> type=<profileType> call=<functionCallIdentifier>
 *   requester=<functionRequesterIdentifier> result=<hex of the first 2 bytes
 *   of resultData> ts=<ok|bad> cert=<yes|no>
 * With --fail N the first N requests get HTTP 503 (an operator that is down).
 *   es2_peer --listen ADDR:PORT --cert CERT --key KEY --client-ca CA --out FILE
 *            [--fail N]
 * Prints "listening on PORT" when ready; stops on SIGTERM/SIGINT. */
#include "smdp.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct peer {
	pthread_mutex_t mu;
	FILE *out;
	int fail_left;
	int n;
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static const char *jstr(const cJSON *o, const char *name)
{
	const cJSON *f = cJSON_GetObjectItemCaseSensitive(o, name);

	return cJSON_IsString(f) ? f->valuestring : "-";
}

/* YYYY-MM-DDThh:mm:ssZ (the W3C form with TZD = Z) */
static int ts_ok(const char *s)
{
	static const char pat[] = "dddd-dd-ddTdd:dd:ddZ";

	if (strlen(s) != sizeof(pat) - 1)
		return 0;
	for (size_t i = 0; pat[i]; i++)
		if (pat[i] == 'd' ? !isdigit((unsigned char)s[i]) : s[i] != pat[i])
			return 0;
	return 1;
}

static void handler(void *ctx, const struct http_request *rq, struct http_response *rs)
{
	struct peer *p = ctx;
	cJSON *in = NULL;
	const cJSON *h, *nps, *scd, *np;
	struct buf rd = { 0 };
	char rhex[5] = "-";
	const char *r64;

	pthread_mutex_lock(&p->mu);
	if (p->fail_left > 0) {
		p->fail_left--;
		rs->status = 503;
		goto out;
	}
	if (strcmp(rq->path, "/gsma/rsp2/es2plus/handleDownloadProgressInfo") ||
	    strcmp(rq->method, "POST") ||
	    strncmp(rq->content_type, "application/json", 16) ||
	    !(in = cJSON_ParseWithLength((const char *)rq->body, rq->body_len))) {
		fprintf(p->out, "n=%d bad-request path=%s\n", ++p->n, rq->path);
		rs->status = 400;
		goto out;
	}
	h = cJSON_GetObjectItemCaseSensitive(in, "header");
	nps = cJSON_GetObjectItemCaseSensitive(in, "notificationPointStatus");
	scd = cJSON_GetObjectItemCaseSensitive(nps, "statusCodeData");
	np = cJSON_GetObjectItemCaseSensitive(in, "notificationPointId");
	r64 = jstr(in, "resultData");
	if (strcmp(r64, "-") && b64_decode(r64, strlen(r64), &rd) == 0 && rd.len >= 2)
		hex_encode(rd.p, 2, rhex, sizeof(rhex));
	fprintf(p->out, "n=%d point=%d status=%s code=%s/%s iccid=%s eid=%s type=%s call=%s "
		"requester=%s result=%s ts=%s cert=%s\n", ++p->n,
		cJSON_IsNumber(np) ? np->valueint : -1, jstr(nps, "status"),
		jstr(scd, "subjectCode"), jstr(scd, "reasonCode"), jstr(in, "iccid"),
		jstr(in, "eid"), jstr(in, "profileType"), jstr(h, "functionCallIdentifier"),
		jstr(h, "functionRequesterIdentifier"), rhex,
		ts_ok(jstr(in, "timestamp")) ? "ok" : "bad", rq->client_cert ? "yes" : "no");
	/* SGP.22 5.3.5: no output data, 204 */
	rs->status = 204;
out:
	fflush(p->out);
	pthread_mutex_unlock(&p->mu);
	buf_free(&rd);
	cJSON_Delete(in);
}

int main(int argc, char **argv)
{
	struct http_listener_cfg l;
	struct http_server *srv = NULL;
	struct peer p;
	const char *listen = NULL, *outf = NULL, *colon;
	char err[512];
	int rc = 1;

	memset(&l, 0, sizeof(l));
	memset(&p, 0, sizeof(p));
	pthread_mutex_init(&p.mu, NULL);
	snprintf(l.name, sizeof(l.name), "peer");
	for (int i = 1; i + 1 < argc; i += 2) {
		const char *k = argv[i], *v = argv[i + 1];
		if (!strcmp(k, "--listen"))
			listen = v;
		else if (!strcmp(k, "--cert"))
			snprintf(l.cert, sizeof(l.cert), "%s", v);
		else if (!strcmp(k, "--key"))
			snprintf(l.key, sizeof(l.key), "%s", v);
		else if (!strcmp(k, "--client-ca"))
			snprintf(l.client_ca, sizeof(l.client_ca), "%s", v);
		else if (!strcmp(k, "--out"))
			outf = v;
		else if (!strcmp(k, "--fail"))
			p.fail_left = atoi(v);
		else
			goto usage;
	}
	if (!listen || !outf || !l.cert[0] || !l.key[0] || !(colon = strrchr(listen, ':')))
		goto usage;
	snprintf(l.addr, sizeof(l.addr), "%.*s", (int)(colon - listen), listen);
	l.port = atoi(colon + 1);
	p.out = fopen(outf, "a");
	if (!p.out) {
		perror(outf);
		goto out;
	}
	log_set_level(LOG_WARN);
	srv = http_start(&l, 1, 4, SMDP_MAX_BODY, handler, &p, err, sizeof(err));
	if (!srv) {
		fprintf(stderr, "es2_peer: %s\n", err);
		goto out;
	}
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	printf("listening on %d\n", http_port(srv, 0));
	fflush(stdout);
	while (!stop)
		usleep(50000);
	rc = 0;
	goto out;
usage:
	fprintf(stderr, "usage: es2_peer --listen ADDR:PORT --cert CERT --key KEY "
		"[--client-ca CA] --out FILE [--fail N]\n");
	rc = 64;
out:
	http_stop(srv);
	if (p.out)
		fclose(p.out);
	pthread_mutex_destroy(&p.mu);
	return rc;
}
