/* log.c - the logging vocabulary: error, warn, info, debug, to stderr with a
 * UTC timestamp. The level is process-wide configuration, set once at
 * start-up (the only mutable file-scope state in smdp). */
#include "smdp.h"

#include <stdarg.h>
#include <stdio.h>
#include <sys/time.h>

static enum log_level current_level = LOG_INFO;

void log_set_level(enum log_level lvl)
{
	current_level = lvl;
}

enum log_level log_get_level(void)
{
	return current_level;
}

void log_msg(enum log_level lvl, const char *fmt, ...)
{
	static const char *const names[] = { "error", "warn", "info", "debug" };
	char line[2048], stamp[32];
	struct timeval tv;
	struct tm tm;
	va_list ap;

	if (lvl > current_level)
		return;
	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	/* one fprintf per line so concurrent workers do not interleave */
	fprintf(stderr, "%s.%03ldZ %-5s %s\n", stamp, (long)(tv.tv_usec / 1000),
		names[lvl], line);
}
