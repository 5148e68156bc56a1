/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * TAP output of the userspace test programs (tests/drivers, tests/fuzz):
 * one implementation, so that every program numbers, labels and counts its
 * results the same way and the harness can read them all alike.
 */
#ifndef VKT_TESTS_TAP_H
#define VKT_TESTS_TAP_H

#include <stdarg.h>
#include <stdbool.h>

/* Prefix of every result line ("LABEL: what"), if set. */
extern const char *tap_label;
/* Results so far, and how many of them failed. */
extern unsigned int tap_n, tap_failed;

/* One result; returns @ok so that it can sit in a condition. */
bool check(bool ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A result that could not be measured here, with the reason. */
void skip(const char *why, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void vdiag(const char *fmt, va_list ap);
/*
 * A failure the program cannot go on after: a failed result naming errno,
 * the plan, exit status 1.
 */
void bail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
/* The plan line; returns the exit status the results call for. */
int tap_end(void);

#endif /* VKT_TESTS_TAP_H */
