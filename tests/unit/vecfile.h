/*
 * vecfile.h - TEST ONLY: reads the vector files of tests/vectors/ (the format
 * of docs/PROTOCOL.md section 9: "name: value" header lines, a blank line,
 * the object in hex) for the known-answer suites.  Header-only (static
 * functions) so each suite links it without a library; a value is checked
 * through field()/need(), and all_used() fails on a field nobody read.
 * Runs with cwd = repo top; never writes.
 */
#ifndef SB_TEST_VECFILE_H
#define SB_TEST_VECFILE_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/sberr.h"
#include "common/wire.h"

#define VEC_DIR "tests/vectors/"
#define MAX_FIELDS 1024
/* Not every suite uses every reader. */
#define VEC_FN static __attribute__((unused))

struct vec {
	char name[128];
	char *text;                   /* owned file contents, split in place */
	const char *key[MAX_FIELDS], *val[MAX_FIELDS];
	int used[MAX_FIELDS];
	size_t nfields;
	struct sb_buf blob;           /* the object: hex after the blank line */
};

/* The whole file, NUL-terminated; its length in *len (may be NULL). */
VEC_FN char *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (f == NULL)
		fail_msg("cannot open %s", path);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n >= 0);
	rewind(f);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	buf[n] = '\0';
	if (len != NULL)
		*len = (size_t)n;
	return buf;
}

VEC_FN int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* The hex in s[0..n) (newlines ignored) appended to out. */
VEC_FN void
unhex(const char *s, size_t n, struct sb_buf *out)
{
	int hi = -1;
	size_t i;

	for (i = 0; i < n; i++) {
		int v;

		if (s[i] == '\n' || s[i] == ' ')
			continue;
		v = hexval(s[i]);
		if (v < 0)
			fail_msg("bad hex character '%c'", s[i]);
		if (hi < 0) {
			hi = v;
		} else {
			assert_int_equal(sb_put_u8(out, (uint8_t)(hi << 4 | v)), SB_OK);
			hi = -1;
		}
	}
	assert_int_equal(hi, -1);
}

VEC_FN void
vec_load(struct vec *v, const char *name)
{
	char path[256];
	char *p, *line;

	memset(v, 0, sizeof(*v));
	snprintf(v->name, sizeof(v->name), "%s", name);
	snprintf(path, sizeof(path), VEC_DIR "%s", name);
	v->text = slurp(path, NULL);
	for (p = v->text;;) {
		line = p;
		if ((p = strchr(line, '\n')) == NULL)
			fail_msg("%s: no blank line after the header", name);
		*p++ = '\0';
		if (*line == '\0')
			break;
		if (v->nfields == MAX_FIELDS)
			fail_msg("%s: more than %d header lines", name, MAX_FIELDS);
		v->key[v->nfields] = line;
		if ((line = strstr(line, ": ")) == NULL)
			fail_msg("%s: bad header line", name);
		*line = '\0';
		v->val[v->nfields++] = line + 2;
	}
	unhex(p, strlen(p), &v->blob);
}

VEC_FN void
vec_free(struct vec *v)
{
	free(v->text);
	sb_buf_free(&v->blob);
}

/* Field k's value (marked as checked), or NULL. */
VEC_FN const char *
field(struct vec *v, const char *k)
{
	size_t i;

	for (i = 0; i < v->nfields; i++)
		if (strcmp(v->key[i], k) == 0) {
			v->used[i] = 1;
			return v->val[i];
		}
	return NULL;
}

VEC_FN const char *
need(struct vec *v, const char *k)
{
	const char *s = field(v, k);

	if (s == NULL)
		fail_msg("%s: no '%s' field", v->name, k);
	return s;
}

/* Fails unless every header field was looked at. */
VEC_FN void
all_used(const struct vec *v)
{
	size_t i;

	for (i = 0; i < v->nfields; i++)
		if (!v->used[i])
			fail_msg("%s: field '%s' not checked", v->name, v->key[i]);
}

VEC_FN uint64_t
to_u64(const struct vec *v, const char *s, size_t n)
{
	uint64_t x = 0;
	size_t i;

	if (n == 0 || n > 20)
		fail_msg("%s: bad number '%.*s'", v->name, (int)n, s);
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9' ||
		    x > (UINT64_MAX - (uint64_t)(s[i] - '0')) / 10)
			fail_msg("%s: bad number '%.*s'", v->name, (int)n, s);
		x = x * 10 + (uint64_t)(s[i] - '0');
	}
	return x;
}

VEC_FN uint64_t
need_u64(struct vec *v, const char *k)
{
	const char *s = need(v, k);

	return to_u64(v, s, strlen(s));
}

/* Element i of the comma-separated list s: pointer and length. */
VEC_FN const char *
nth(const struct vec *v, const char *s, size_t i, size_t *n)
{
	for (; i > 0; i--) {
		if ((s = strchr(s, ',')) == NULL)
			fail_msg("%s: list too short", v->name);
		s++;
	}
	*n = strcspn(s, ",");
	return s;
}

/* Hex field k appended to out. */
VEC_FN void
need_unhex(struct vec *v, const char *k, struct sb_buf *out)
{
	const char *s = need(v, k);

	unhex(s, strlen(s), out);
}

#endif
