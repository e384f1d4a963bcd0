/* stats.c - the benchmark's bookkeeping: latency series and their
 * percentiles, what /proc tells about the server process (proc(5)), and
 * the bits of JSON the results are written with. */
#include "bench.h"

#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define PROC_LINE_MAX 4096   /* one line of /proc/<pid>/stat or status */

int samples_add(struct samples *s, double ms)
{
	double *t;
	size_t cap;

	if (s->n >= BENCH_MAX_SAMPLES) {
		s->dropped++;
		return 0;
	}
	if (s->n == s->cap) {
		cap = s->cap ? s->cap * 2 : 256;
		t = realloc(s->v, cap * sizeof(*s->v));
		if (!t) {
			s->dropped++;
			return -1;
		}
		s->v = t;
		s->cap = cap;
	}
	s->v[s->n++] = ms;
	return 0;
}

int samples_merge(struct samples *dst, const struct samples *src)
{
	for (size_t i = 0; i < src->n; i++)
		if (samples_add(dst, src->v[i]))
			return -1;
	dst->dropped += src->dropped;
	return 0;
}

void samples_free(struct samples *s)
{
	free(s->v);
	memset(s, 0, sizeof(*s));
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Nearest rank: index ceil(p/100 * n) - 1 of the sorted samples. */
static double rank(const struct samples *s, double p)
{
	size_t k = (size_t)((p / 100.0) * (double)s->n);

	if ((double)k < (p / 100.0) * (double)s->n)
		k++;
	return s->v[k ? k - 1 : 0];
}

void samples_summary(struct samples *s, struct pct *out)
{
	double sum = 0;

	memset(out, 0, sizeof(*out));
	if (!s->n)
		return;
	qsort(s->v, s->n, sizeof(*s->v), cmp_double);
	for (size_t i = 0; i < s->n; i++)
		sum += s->v[i];
	out->n = s->n;
	out->mean = sum / (double)s->n;
	out->p50 = rank(s, 50);
	out->p95 = rank(s, 95);
	out->p99 = rank(s, 99);
	out->max = s->v[s->n - 1];
}

/* "Name:   123 kB" lines of /proc/<pid>/status. */
static long status_field(const char *text, const char *name)
{
	const char *p = strstr(text, name);

	return p ? strtol(p + strlen(name), NULL, 10) : -1;
}

int proc_read(pid_t pid, struct proc_snap *out)
{
	char path[64], *text = NULL, *p;
	FILE *f = NULL;
	unsigned long long ut = 0, st = 0;
	size_t n;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (pid <= 0)
		return -1;
	text = malloc(PROC_LINE_MAX);
	if (!text)
		goto out;
	/* stat: "pid (comm) state ..." where comm may hold spaces and ')':
	 * fields count from the last ')'. utime and stime are fields 14 and 15
	 * of proc(5), i.e. the 12th and 13th after it. */
	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	if (!(f = fopen(path, "r")))
		goto out;
	n = fread(text, 1, PROC_LINE_MAX - 1, f);
	text[n] = '\0';
	fclose(f);
	f = NULL;
	if (!(p = strrchr(text, ')')) ||
	    sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
		goto out;
	out->cpu_s = (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
	snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
	if (!(f = fopen(path, "r")))
		goto out;
	n = fread(text, 1, PROC_LINE_MAX - 1, f);
	text[n] = '\0';
	out->rss_kb = status_field(text, "VmRSS:");
	out->hwm_kb = status_field(text, "VmHWM:");
	out->threads = status_field(text, "Threads:");
	out->ok = 1;
	rc = 0;
out:
	if (f)
		fclose(f);
	free(text);
	return rc;
}

int machine_busy_s(double *busy, double *per_cpu, int max)
{
	unsigned long long v[8];
	double tck = (double)sysconf(_SC_CLK_TCK);
	char line[512];
	FILE *f;
	int n = 0, cpu, have_total = 0;

	*busy = 0;
	if (per_cpu && max > 0)
		memset(per_cpu, 0, (size_t)max * sizeof(*per_cpu));
	if (!(f = fopen("/proc/stat", "r")))
		return -1;
	/* "cpu user nice system idle iowait irq softirq steal ..." (proc(5)),
	 * then one "cpuN ..." line per online CPU */
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "cpu", 3) != 0)
			continue;
		memset(v, 0, sizeof(v));
		if (line[3] == ' ') {
			if (sscanf(line, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1],
				   &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]) < 7)
				break;
			*busy = (double)(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / tck;
			have_total = 1;
		} else if (per_cpu &&
			   sscanf(line, "cpu%d %llu %llu %llu %llu %llu %llu %llu %llu", &cpu, &v[0],
				  &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]) >= 8 &&
			   cpu >= 0 && cpu < max) {
			per_cpu[cpu] = (double)(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / tck;
			if (cpu + 1 > n)
				n = cpu + 1;
		}
	}
	fclose(f);
	return have_total ? n : -1;
}

double self_cpu_s(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru))
		return 0;
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

void json_pct(FILE *f, const char *name, const struct pct *p)
{
	json_string(f, name);
	fprintf(f, ":{\"n\":%zu,\"mean\":%.3f,\"p50\":%.3f,\"p95\":%.3f,\"p99\":%.3f,"
		"\"max\":%.3f}", p->n, p->mean, p->p50, p->p95, p->p99, p->max);
}
