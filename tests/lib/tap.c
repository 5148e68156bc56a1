// SPDX-License-Identifier: GPL-2.0-only
/*
 * TAP output of the userspace test programs; see tap.h.  Every line is
 * flushed at once: the harness reads a guest's console as it goes, and a
 * program killed by a test timeout must still have shown what it did.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"

const char *tap_label;
unsigned int tap_n, tap_failed;

static void result(const char *status, const char *fmt, va_list ap)
{
	printf("%s %u - %s%s", status, ++tap_n, tap_label ? tap_label : "",
	       tap_label ? ": " : "");
	vprintf(fmt, ap);
}

bool check(bool ok, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	result(ok ? "ok" : "not ok", fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	if (!ok)
		tap_failed++;
	return ok;
}

void skip(const char *why, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	result("ok", fmt, ap);
	va_end(ap);
	printf(" # SKIP %s\n", why);
	fflush(stdout);
}

void vdiag(const char *fmt, va_list ap)
{
	printf("# ");
	vprintf(fmt, ap);
	printf("\n");
	fflush(stdout);
}

void diag(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vdiag(fmt, ap);
	va_end(ap);
}

void bail(const char *fmt, ...)
{
	int err = errno;
	va_list ap;

	va_start(ap, fmt);
	result("not ok", fmt, ap);
	va_end(ap);
	printf(" (%s)\n", strerror(err));
	tap_failed++;
	exit(tap_end());
}

int tap_end(void)
{
	printf("1..%u\n", tap_n);
	fflush(stdout);
	return tap_failed ? 1 : 0;
}
