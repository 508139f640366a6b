/* Unit tests of the HTTP core shared by minimal_ws and bsd_ws (apps/http):
 * the request parser on every status and at every split point, request
 * bodies (skipped exactly, or refused), and the page store on a temporary
 * directory tree. */
#define _XOPEN_SOURCE 700 /* mkdtemp, nftw, symlink */

#include <errno.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../../apps/http/http_parse.h"
#include "../../../apps/http/page_store.h"

/* memmem is a GNU extension */
static const void *find_bytes(const void *hay, size_t n, const void *needle, size_t m)
{
	const uint8_t *h = hay;
	for (size_t i = 0; m <= n && i <= n - m; i++)
		if (memcmp(h + i, needle, m) == 0)
			return h + i;
	return NULL;
}

/* ---- parser helpers ---- */

struct parsed {
	enum http_parse_result res;
	size_t used;
	struct http_parser p;
};

/* Feeds `req` in pieces of at most `step` bytes (0: all at once). */
static void parse_steps(const char *req, size_t len, size_t step, struct parsed *out)
{
	http_parser_init(&out->p);
	size_t off = 0;
	out->res = HTTP_PARSE_MORE;
	while (off < len) {
		size_t n = step ? step : len - off;
		if (n > len - off)
			n = len - off;
		size_t used = 0;
		out->res = http_parse(&out->p, (const uint8_t *)req + off, n, &used);
		off += used;
		if (out->res == HTTP_PARSE_DONE)
			break;
		assert_int_equal(used, n); /* MORE consumes everything */
	}
	out->used = off;
}

static void parse_str(const char *req, struct parsed *out)
{
	parse_steps(req, strlen(req), 0, out);
}

static void expect_status(const char *req, unsigned status)
{
	struct parsed r;
	parse_str(req, &r);
	assert_int_equal(r.res, HTTP_PARSE_DONE);
	assert_int_equal(r.p.status, status);
}

static void expect_path(const struct parsed *r, const char *path)
{
	assert_int_equal(r->p.path_len, strlen(path));
	assert_memory_equal(r->p.path, path, strlen(path));
}

/* ---- parser tests ---- */

static void test_get_simple(void **state)
{
	(void)state;
	const char *req = "GET /index.html HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n";
	struct parsed r;
	parse_str(req, &r);
	assert_int_equal(r.res, HTTP_PARSE_DONE);
	assert_int_equal(r.used, strlen(req));
	assert_int_equal(r.p.status, 0);
	assert_int_equal(r.p.method, HTTP_METHOD_GET);
	assert_int_equal(r.p.major, 1);
	assert_int_equal(r.p.minor, 1);
	expect_path(&r, "/index.html");
}

static void test_head_and_versions(void **state)
{
	(void)state;
	struct parsed r;
	parse_str("HEAD /a HTTP/1.0\r\n\r\n", &r);
	assert_int_equal(r.p.status, 0);
	assert_int_equal(r.p.method, HTTP_METHOD_HEAD);
	assert_int_equal(r.p.minor, 0);
	expect_path(&r, "/a");
	/* bare LF line ends are accepted (RFC 9112 2.2) */
	parse_str("GET /b HTTP/1.1\nHost: y\n\n", &r);
	assert_int_equal(r.res, HTTP_PARSE_DONE);
	assert_int_equal(r.p.status, 0);
	expect_path(&r, "/b");
	/* leading empty lines are skipped */
	parse_str("\r\n\r\nGET /c HTTP/1.1\r\n\r\n", &r);
	assert_int_equal(r.p.status, 0);
	expect_path(&r, "/c");
}

static void test_incomplete_is_more(void **state)
{
	(void)state;
	const char *req = "GET /index.html HTTP/1.1\r\nHost: x\r\n";
	struct parsed r;
	parse_str(req, &r);
	assert_int_equal(r.res, HTTP_PARSE_MORE);
	assert_int_equal(r.used, strlen(req));
	assert_int_equal(r.p.status, 0);
}

static void test_status_400(void **state)
{
	(void)state;
	expect_status("\x01\x02garbage\r\n\r\n", 400);
	expect_status("GET\r\n\r\n", 400);
	expect_status("GET /\r\n\r\n", 400);		  /* HTTP/0.9 */
	expect_status("GET / HTTP/1.1 x\r\n\r\n", 400);	  /* junk after version */
	expect_status("GET / http/1.1\r\n\r\n", 400);	  /* the name is case-sensitive */
	expect_status("GET  / HTTP/1.1\r\n\r\n", 400);	  /* two spaces */
	expect_status("GET /a%zz HTTP/1.1\r\n\r\n", 400); /* bad escape */
	expect_status("GET /a%4 HTTP/1.1\r\n\r\n", 400);
	expect_status("GET /a%00b HTTP/1.1\r\n\r\n", 400); /* NUL */
	expect_status("GET /a\tb HTTP/1.1\r\n\r\n", 400);
	expect_status("GET / HTTP/1.1\r\nNoColon\r\n\r\n", 400);
	expect_status("GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400); /* space before colon */
	expect_status("GET / HTTP/1.1\r\n: x\r\n\r\n", 400);
	expect_status("GET / HTTP/1.1\rX\r\n\r\n", 400);	    /* CR without LF */
	expect_status("\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n", 400); /* too many empty lines */
}

static void test_status_400_decided_early(void **state)
{
	(void)state;
	/* Garbage is answered at once, without waiting for an empty line. */
	struct parsed r;
	parse_str("\x16\x03\x01 binary", &r);
	assert_int_equal(r.res, HTTP_PARSE_DONE);
	assert_int_equal(r.p.status, 400);
	assert_int_equal(r.used, 1);
}

static void test_traversal(void **state)
{
	(void)state;
	expect_status("GET /../etc/passwd HTTP/1.1\r\n\r\n", 400);
	expect_status("GET /a/../../b HTTP/1.1\r\n\r\n", 400);
	expect_status("GET /a/.. HTTP/1.1\r\n\r\n", 400);
	expect_status("GET /a/%2e%2e/b HTTP/1.1\r\n\r\n", 400);
	expect_status("GET /a/.%2E/b HTTP/1.1\r\n\r\n", 400);
	expect_status("GET /..?x HTTP/1.1\r\n\r\n", 400);
	expect_status("GET http://h/../x HTTP/1.1\r\n\r\n", 400);
	/* dots that are not a ".." segment are ordinary names */
	struct parsed r;
	parse_str("GET /a..b/...html HTTP/1.1\r\n\r\n", &r);
	assert_int_equal(r.p.status, 0);
	expect_path(&r, "/a..b/...html");
}

static void test_status_405(void **state)
{
	(void)state;
	struct parsed r;
	const char *req = "POST /index.html HTTP/1.1\r\nContent-Length: 0\r\n\r\n";
	parse_str(req, &r);
	assert_int_equal(r.res, HTTP_PARSE_DONE);
	assert_int_equal(r.p.status, 405);
	assert_int_equal(r.p.method, HTTP_METHOD_OTHER);
	/* 405 is decided after the whole header, so the stream stays in sync */
	assert_int_equal(r.used, strlen(req));
	expect_status("get / HTTP/1.1\r\n\r\n", 405); /* methods are case-sensitive */
	expect_status("GETX / HTTP/1.1\r\n\r\n", 405);
	expect_status("VERYLONGMETHODNAME / HTTP/1.1\r\n\r\n", 405);
	expect_status("DELETE / HTTP/1.0\r\n\r\n", 405);
}

static char *make_line(size_t line_len, const char *after)
{
	/* "GET /aaaa... HTTP/1.1" of exactly line_len bytes, then `after` */
	size_t fixed = strlen("GET / HTTP/1.1");
	size_t al = strlen(after);
	char *s = malloc(line_len + al + 1);
	assert_non_null(s);
	memcpy(s, "GET /", 5);
	memset(s + 5, 'a', line_len - fixed);
	memcpy(s + 5 + (line_len - fixed), " HTTP/1.1", 9);
	memcpy(s + line_len, after, al + 1);
	return s;
}

static void test_status_414(void **state)
{
	(void)state;
	char *ok = make_line(HTTP_LINE_MAX, "\r\n\r\n");
	struct parsed r;
	parse_str(ok, &r);
	assert_int_equal(r.res, HTTP_PARSE_DONE);
	assert_int_equal(r.p.status, 0);
	assert_true(r.p.path_long); /* no page can have such a path: 404 later */
	free(ok);
	char *big = make_line(HTTP_LINE_MAX + 1, "\r\n\r\n");
	parse_str(big, &r);
	assert_int_equal(r.res, HTTP_PARSE_DONE);
	assert_int_equal(r.p.status, 414);
	/* decided at byte 8193, before the line ends */
	assert_int_equal(r.used, HTTP_LINE_MAX + 1);
	free(big);
}

static void test_status_431(void **state)
{
	(void)state;
	size_t n = HTTP_HEADER_MAX + 100;
	char *req = malloc(n + 64);
	assert_non_null(req);
	strcpy(req, "GET / HTTP/1.1\r\n");
	size_t off = strlen(req);
	while (off < n) {
		memcpy(req + off, "X-Pad: 0123456789abcdef\r\n", 25);
		off += 25;
	}
	strcpy(req + off, "\r\n");
	struct parsed r;
	parse_str(req, &r);
	assert_int_equal(r.res, HTTP_PARSE_DONE);
	assert_int_equal(r.p.status, 431);
	assert_int_equal(r.used, strlen("GET / HTTP/1.1\r\n") + HTTP_HEADER_MAX + 1);
	/* just under the limit is fine */
	off = strlen("GET / HTTP/1.1\r\n");
	size_t lim = off + HTTP_HEADER_MAX - 40;
	while (off + 25 <= lim) {
		memcpy(req + off, "X-Pad: 0123456789abcdef\r\n", 25);
		off += 25;
	}
	strcpy(req + off, "\r\n");
	parse_str(req, &r);
	assert_int_equal(r.p.status, 0);
	free(req);
}

static void test_status_505(void **state)
{
	(void)state;
	expect_status("GET / HTTP/2.0\r\n\r\n", 505);
	expect_status("GET / HTTP/0.9\r\n\r\n", 505);
}

static void test_percent_decoding(void **state)
{
	(void)state;
	struct parsed r;
	parse_str("GET /a%20b%2Fc%41%7e.html HTTP/1.1\r\n\r\n", &r);
	assert_int_equal(r.p.status, 0);
	expect_path(&r, "/a b/cA~.html");
	parse_str("GET /%e2%82%ac HTTP/1.1\r\n\r\n", &r);
	assert_int_equal(r.p.status, 0);
	expect_path(&r, "/\xe2\x82\xac");
	/* the query is not part of the path, and is not decoded */
	parse_str("GET /q.html?x=%zz&y=1 HTTP/1.1\r\n\r\n", &r);
	assert_int_equal(r.p.status, 0);
	expect_path(&r, "/q.html");
}

static void test_absolute_form(void **state)
{
	(void)state;
	struct parsed r;
	parse_str("GET http://example.test/dir/a.html HTTP/1.1\r\n\r\n", &r);
	assert_int_equal(r.p.status, 0);
	expect_path(&r, "/dir/a.html");
	parse_str("GET http://example.test HTTP/1.1\r\n\r\n", &r);
	assert_int_equal(r.p.status, 0);
	expect_path(&r, "/");
	expect_status("GET http:/x/a HTTP/1.1\r\n\r\n", 400);
}

static void test_connection_header(void **state)
{
	(void)state;
	struct parsed r;
	parse_str("GET / HTTP/1.1\r\n\r\n", &r);
	assert_true(http_parser_wants_keepalive(&r.p));
	parse_str("GET / HTTP/1.0\r\n\r\n", &r);
	assert_false(http_parser_wants_keepalive(&r.p));
	parse_str("GET / HTTP/1.1\r\nconnection:   Close  \r\n\r\n", &r);
	assert_false(http_parser_wants_keepalive(&r.p));
	parse_str("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", &r);
	assert_true(http_parser_wants_keepalive(&r.p));
	parse_str("GET / HTTP/1.1\r\nX: y\r\nCONNECTION: upgrade, close\r\n\r\n", &r);
	assert_false(http_parser_wants_keepalive(&r.p));
	/* other headers that merely start like it do not count */
	parse_str("GET / HTTP/1.1\r\nConnectionx: close\r\nConnect: close\r\n\r\n", &r);
	assert_true(http_parser_wants_keepalive(&r.p));
	/* a continuation line is ignored */
	parse_str("GET / HTTP/1.1\r\nX-A: b\r\n close\r\n\r\n", &r);
	assert_int_equal(r.p.status, 0);
	assert_true(http_parser_wants_keepalive(&r.p));
}

static void test_pipelined(void **state)
{
	(void)state;
	const char *two = "GET /a HTTP/1.1\r\n\r\nHEAD /b HTTP/1.1\r\nConnection: close\r\n\r\n";
	struct http_parser p;
	http_parser_init(&p);
	size_t used;
	assert_int_equal(http_parse(&p, (const uint8_t *)two, strlen(two), &used), HTTP_PARSE_DONE);
	assert_int_equal(used, strlen("GET /a HTTP/1.1\r\n\r\n"));
	assert_int_equal(p.method, HTTP_METHOD_GET);
	assert_int_equal(p.path_len, 2);
	/* done stays done until re-initialised */
	size_t u2 = 99;
	assert_int_equal(http_parse(&p, (const uint8_t *)two + used, 3, &u2), HTTP_PARSE_DONE);
	assert_int_equal(u2, 0);
	http_parser_init(&p);
	size_t used2;
	assert_int_equal(http_parse(&p, (const uint8_t *)two + used, strlen(two) - used, &used2),
			 HTTP_PARSE_DONE);
	assert_int_equal(used + used2, strlen(two));
	assert_int_equal(p.method, HTTP_METHOD_HEAD);
	assert_memory_equal(p.path, "/b", 2);
	assert_false(http_parser_wants_keepalive(&p));
}

/* A body declared by Content-Length is consumed with its request, so with
 * keep-alive the next request starts after it: body bytes are never parsed
 * as a request line (they used to be: a request smuggled in a body). */
static void test_body_skipped(void **state)
{
	(void)state;
	static const char hdr[] = "GET /a HTTP/1.1\r\nHost: h\r\nContent-Length: 26\r\n\r\n";
	static const char body[] = "GET /smuggled HTTP/1.1\r\n\r\n"; /* 26 bytes */
	static const char next[] = "GET /b HTTP/1.1\r\n\r\n";
	char req[256];
	snprintf(req, sizeof(req), "%s%s%s", hdr, body, next);
	assert_int_equal(strlen(body), 26);
	size_t len = strlen(req), first = strlen(hdr) + 26;
	for (size_t step = 0; step <= 7; step++) {
		struct parsed r;
		parse_steps(req, len, step, &r);
		assert_int_equal(r.res, HTTP_PARSE_DONE);
		assert_int_equal(r.used, first);
		assert_int_equal(r.p.status, 0);
		expect_path(&r, "/a");
		parse_steps(req + first, len - first, step, &r);
		assert_int_equal(r.res, HTTP_PARSE_DONE);
		assert_int_equal(r.used, strlen(next));
		expect_path(&r, "/b");
	}
	/* the header alone leaves the parser waiting for the body */
	struct parsed r;
	parse_str(hdr, &r);
	assert_int_equal(r.res, HTTP_PARSE_MORE);
	/* a body of 0, and a length with whitespace around it or leading zeros */
	parse_str("GET /a HTTP/1.1\r\nContent-Length: 0\r\n\r\nX", &r);
	assert_int_equal(r.res, HTTP_PARSE_DONE);
	assert_int_equal(r.used, strlen("GET /a HTTP/1.1\r\nContent-Length: 0\r\n\r\n"));
	parse_str("GET /a HTTP/1.1\r\ncontent-length:\t 003 \r\n\r\nabcX", &r);
	assert_int_equal(r.p.status, 0);
	assert_int_equal(r.used, strlen("GET /a HTTP/1.1\r\ncontent-length:\t 003 \r\n\r\nabc"));
	/* the same length twice is one length (RFC 9110 8.6) */
	parse_str("GET /a HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nabX", &r);
	assert_int_equal(r.p.status, 0);
	assert_int_equal(r.used, strlen("GET /a HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nab"));
	/* the largest body skipped */
	char big[128];
	snprintf(big, sizeof(big), "HEAD / HTTP/1.1\r\nContent-Length: %u\r\n\r\n", (unsigned)HTTP_BODY_MAX);
	char *full = calloc(1, strlen(big) + HTTP_BODY_MAX + 1);
	assert_non_null(full);
	memcpy(full, big, strlen(big));
	memset(full + strlen(big), 'G', HTTP_BODY_MAX);
	parse_steps(full, strlen(big) + HTTP_BODY_MAX, 1000, &r);
	assert_int_equal(r.res, HTTP_PARSE_DONE);
	assert_int_equal(r.p.status, 0);
	assert_int_equal(r.used, strlen(big) + HTTP_BODY_MAX);
	free(full);
	/* names that merely start alike are not the length */
	parse_str("GET /a HTTP/1.1\r\nContent-Lengthy: 5\r\nContent-Type: x\r\n\r\n", &r);
	assert_int_equal(r.res, HTTP_PARSE_DONE);
	assert_int_equal(r.p.status, 0);
}

/* Another method with a body: 405 once the body has passed, and the
 * connection stays in step. */
static void test_body_of_other_method(void **state)
{
	(void)state;
	const char *req = "POST /form HTTP/1.1\r\nContent-Length: 11\r\n\r\nGET / HTTP/GET /b HTTP/1.1\r\n\r\n";
	struct parsed r;
	parse_str(req, &r);
	assert_int_equal(r.res, HTTP_PARSE_DONE);
	assert_int_equal(r.p.status, 405);
	assert_int_equal(r.used, strlen("POST /form HTTP/1.1\r\nContent-Length: 11\r\n\r\nGET / HTTP/"));
	parse_str(req + r.used, &r);
	assert_int_equal(r.p.status, 0);
	expect_path(&r, "/b");
}

/* Framing the parser cannot follow is refused, decided at the end of the
 * header (the connection then closes): a body over HTTP_BODY_MAX (413), a
 * Transfer-Encoding (411; 400 with a Content-Length too or in HTTP/1.0),
 * an invalid or conflicting Content-Length (400). */
static void test_body_refused(void **state)
{
	(void)state;
	static const struct {
		const char *req;
		unsigned status;
	} cases[] = {
	    {"GET / HTTP/1.1\r\nContent-Length: 65537\r\n\r\n", 413},
	    {"GET / HTTP/1.1\r\nContent-Length: 99999999999999999999999999\r\n\r\n", 413},
	    {"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", 411},
	    {"GET / HTTP/1.1\r\ntransfer-encoding: gzip, chunked\r\n\r\n", 411},
	    {"GET / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
	    {"GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", 400},
	    {"GET / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
	    {"GET / HTTP/1.1\r\nContent-Length: abc\r\n\r\n", 400},
	    {"GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400},
	    {"GET / HTTP/1.1\r\nContent-Length: +5\r\n\r\n", 400},
	    {"GET / HTTP/1.1\r\nContent-Length: 5, 5\r\n\r\n", 400},
	    {"GET / HTTP/1.1\r\nContent-Length: 1 2\r\n\r\n", 400},
	    {"GET / HTTP/1.1\r\nContent-Length: \r\n\r\n", 400},
	    {"GET / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", 400},
	    {"GET / HTTP/1.1\r\nContent-Length: 5\r\n 6\r\n\r\n", 400}, /* obs-fold of a length */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct parsed r;
		parse_str(cases[i].req, &r);
		if (r.res != HTTP_PARSE_DONE || r.p.status != cases[i].status)
			fail_msg("case %zu: %s: status %u, wanted %u", i, cases[i].req, r.p.status, cases[i].status);
		/* decided without reading any body */
		const char *end = strstr(cases[i].req, "\r\n\r\n");
		if (r.p.status != 400)
			assert_int_equal(r.used, (size_t)(end - cases[i].req) + 4);
	}
}

/* Every request parses identically whole, split in two at every byte
 * boundary, and fed one byte at a time. */
static void test_split_every_boundary(void **state)
{
	(void)state;
	static const char *const reqs[] = {
	    "GET /dir/a%20b.html?q=1 HTTP/1.1\r\nHost: h\r\nConnection: keep-alive\r\n\r\n",
	    "HEAD / HTTP/1.0\r\nUser-Agent: t\r\n\r\n",
	    "POST /x HTTP/1.1\r\nConnection: close\r\n\r\n",
	    "GET /../x HTTP/1.1\r\n\r\n",
	    "GET / HTTP/3.0\r\n\r\n",
	    "GET http://h:80/p HTTP/1.1\nX: y\n\n",
	    "GET / HTTP/1.1\r\nBad Header: x\r\n\r\n",
	    "POST /f HTTP/1.1\r\nContent-Length: 9\r\n\r\nab\r\n\r\nGET",
	    "GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
	    "GET / HTTP/1.1\r\nContent-Length: 1x\r\n\r\n",
	};
	for (size_t k = 0; k < sizeof(reqs) / sizeof(reqs[0]); k++) {
		size_t len = strlen(reqs[k]);
		struct parsed whole;
		parse_str(reqs[k], &whole);
		assert_int_equal(whole.res, HTTP_PARSE_DONE);
		struct parsed one;
		parse_steps(reqs[k], len, 1, &one);
		assert_int_equal(one.res, HTTP_PARSE_DONE);
		assert_int_equal(one.used, whole.used);
		assert_int_equal(one.p.status, whole.p.status);
		assert_int_equal(one.p.method, whole.p.method);
		assert_int_equal(one.p.path_len, whole.p.path_len);
		assert_memory_equal(one.p.path, whole.p.path, whole.p.path_len);
		assert_int_equal(http_parser_wants_keepalive(&one.p), http_parser_wants_keepalive(&whole.p));
		for (size_t cut = 1; cut < len; cut++) {
			struct http_parser p;
			http_parser_init(&p);
			size_t u1 = 0, u2 = 0;
			enum http_parse_result r1 = http_parse(&p, (const uint8_t *)reqs[k], cut, &u1);
			enum http_parse_result r2 = r1;
			if (r1 == HTTP_PARSE_MORE) {
				assert_int_equal(u1, cut);
				r2 = http_parse(&p, (const uint8_t *)reqs[k] + cut, len - cut, &u2);
			}
			assert_int_equal(r2, HTTP_PARSE_DONE);
			assert_int_equal(u1 + u2, whole.used);
			assert_int_equal(p.status, whole.p.status);
			assert_int_equal(p.method, whole.p.method);
			assert_int_equal(p.path_len, whole.p.path_len);
			assert_memory_equal(p.path, whole.p.path, whole.p.path_len);
			assert_int_equal(p.conn, whole.p.conn);
		}
	}
}

/* ---- page store on a temporary tree ---- */

struct tree {
	char root[64];
	char outside[64];
};

static void write_file(const char *dir, const char *rel, const char *data, size_t len)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	fclose(f);
}

static void mkdir_in(const char *dir, const char *rel)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	assert_int_equal(mkdir(path, 0755), 0);
}

static void symlink_in(const char *dir, const char *rel, const char *target)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	assert_int_equal(symlink(target, path), 0);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void rm_tree(const char *dir)
{
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static int tree_setup(void **state)
{
	struct tree *t = calloc(1, sizeof(*t));
	assert_non_null(t);
	strcpy(t->root, "/tmp/test_http_root.XXXXXX");
	strcpy(t->outside, "/tmp/test_http_out.XXXXXX");
	assert_non_null(mkdtemp(t->root));
	assert_non_null(mkdtemp(t->outside));
	write_file(t->root, "index.html", "<h1>home</h1>\n", 14);
	write_file(t->root, "style.CSS", "body{}", 6);
	write_file(t->root, "data.bin", "\x00\x01\x02", 3);
	write_file(t->root, "empty.txt", "", 0);
	write_file(t->root, "a b.json", "{}", 2);
	mkdir_in(t->root, "dir");
	write_file(t->root, "dir/index.html", "dir index", 9);
	write_file(t->root, "dir/pic.png", "PNG", 3);
	mkdir_in(t->root, "dir/sub");
	write_file(t->root, "dir/sub/app.js", "x=1", 3);
	mkdir_in(t->root, "noindex");
	write_file(t->root, "noindex/f.svg", "<svg/>", 6);
	write_file(t->outside, "secret.txt", "secret", 6);
	char target[128];
	snprintf(target, sizeof(target), "%s/secret.txt", t->outside);
	symlink_in(t->root, "escape.txt", target); /* absolute, outside: ignored */
	symlink_in(t->root, "dir/rel.txt", "../../../../../../../etc/hostname"); /* relative, outside */
	symlink_in(t->root, "link.html", "dir/index.html");			 /* inside: served */
	symlink_in(t->root, "dirlink", "dir");					 /* directory: not followed */
	symlink_in(t->root, "dangling", "nowhere");
	*state = t;
	return 0;
}

static int tree_teardown(void **state)
{
	struct tree *t = *state;
	rm_tree(t->root);
	rm_tree(t->outside);
	free(t);
	return 0;
}

/* A stand-in for usn_csum_table_build that records its range, so the test
 * needs nothing from libusnet. */
static int fake_csum_build(struct usn_csum_table *t, const void *data, size_t len)
{
	t->data = data;
	t->len = len;
	t->prefix = calloc(len / 2 + 1, sizeof(uint16_t));
	return t->prefix ? 0 : -ENOMEM;
}

static void fake_csum_free(struct usn_csum_table *t)
{
	free(t->prefix);
	t->prefix = NULL;
}

static struct http_store *open_tree(const struct tree *t)
{
	struct http_store_opts o = {.csum_build = fake_csum_build, .csum_free = fake_csum_free, .log = NULL};
	char msg[256] = "";
	struct http_store *s = http_store_open(t->root, &o, msg, sizeof(msg));
	if (!s)
		fail_msg("open failed: %s", msg);
	return s;
}

static void expect_page(const struct http_store *s, const char *path, const char *type, const char *body,
			size_t body_len)
{
	const struct http_page *pg = http_store_lookup(s, path, strlen(path));
	if (!pg)
		fail_msg("no page for %s", path);
	char hdr[256];
	int hl = snprintf(
	    hdr, sizeof(hdr),
	    "HTTP/1.1 200 OK\r\nContent-Type: %s\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n", type,
	    body_len);
	assert_int_equal(pg->full.hdr_len, hl);
	assert_int_equal(pg->full.len, hl + body_len);
	assert_memory_equal(pg->full.data, hdr, (size_t)hl);
	if (body_len)
		assert_memory_equal(pg->full.data + hl, body, body_len);
	assert_ptr_equal(pg->body, pg->full.data + hl);
	assert_int_equal(pg->body_len, body_len);
	/* the checksum table covers exactly the whole response */
	assert_ptr_equal(pg->full.csum.data, pg->full.data);
	assert_int_equal(pg->full.csum.len, pg->full.len);
	assert_ptr_equal(pg->full.hdr_csum.prefix, pg->full.csum.prefix);
	assert_int_equal(pg->full.hdr_csum.len, hl);
	int kl = snprintf(
	    hdr, sizeof(hdr),
	    "HTTP/1.1 200 OK\r\nContent-Type: %s\r\nContent-Length: %zu\r\nConnection: keep-alive\r\n\r\n",
	    type, body_len);
	assert_int_equal(pg->ka.len, kl);
	assert_memory_equal(pg->ka.data, hdr, (size_t)kl);
}

static void test_store_load(void **state)
{
	struct tree *t = *state;
	struct http_store *s = open_tree(t);
	/* index.html style.CSS data.bin empty.txt "a b.json" dir/index.html
	 * dir/pic.png dir/sub/app.js noindex/f.svg link.html */
	assert_int_equal(http_store_pages(s), 10);
	assert_int_equal(http_store_bytes(s), 14 + 6 + 3 + 0 + 2 + 9 + 3 + 3 + 6 + 9);
	expect_page(s, "/index.html", "text/html", "<h1>home</h1>\n", 14);
	expect_page(s, "/style.CSS", "text/css", "body{}", 6);
	expect_page(s, "/data.bin", "application/octet-stream", "\x00\x01\x02", 3);
	expect_page(s, "/empty.txt", "text/plain", "", 0);
	expect_page(s, "/a b.json", "application/json", "{}", 2);
	expect_page(s, "/dir/pic.png", "image/png", "PNG", 3);
	expect_page(s, "/dir/sub/app.js", "text/javascript", "x=1", 3);
	expect_page(s, "/noindex/f.svg", "image/svg+xml", "<svg/>", 6);
	expect_page(s, "/link.html", "text/html", "dir index", 9);
	http_store_close(s);
}

static void test_store_index_mapping(void **state)
{
	struct tree *t = *state;
	struct http_store *s = open_tree(t);
	assert_ptr_equal(http_store_lookup(s, "/", 1), http_store_lookup(s, "/index.html", 11));
	assert_ptr_equal(http_store_lookup(s, "/dir/", 5), http_store_lookup(s, "/dir/index.html", 15));
	assert_null(http_store_lookup(s, "/dir", 4));
	assert_null(http_store_lookup(s, "/noindex/", 9));
	assert_null(http_store_lookup(s, "/dir/sub/", 9));
	http_store_close(s);
}

static void test_store_symlinks(void **state)
{
	struct tree *t = *state;
	struct http_store *s = open_tree(t);
	assert_null(http_store_lookup(s, "/escape.txt", 11));
	assert_null(http_store_lookup(s, "/dir/rel.txt", 12));
	assert_null(http_store_lookup(s, "/dirlink/index.html", 19));
	assert_null(http_store_lookup(s, "/dirlink/pic.png", 16));
	assert_null(http_store_lookup(s, "/dangling", 9));
	/* escape.txt, dir/rel.txt, dangling skipped; dirlink too */
	assert_true(http_store_skipped(s) >= 3);
	for (uint32_t i = 0; i < http_store_pages(s); i++) {
		const struct http_page *pg = http_store_page(s, i);
		assert_null(find_bytes(pg->full.data, pg->full.len, "secret", 6));
	}
	http_store_close(s);
}

static void test_store_errors(void **state)
{
	(void)state;
	char msg[256] = "";
	char dir[] = "/tmp/test_http_empty.XXXXXX";
	assert_non_null(mkdtemp(dir));
	assert_null(http_store_open(dir, NULL, msg, sizeof(msg)));
	assert_non_null(strstr(msg, "no page"));
	assert_null(strchr(msg, '\n'));
	/* a tree of empty directories holds no page either */
	mkdir_in(dir, "sub");
	msg[0] = '\0';
	assert_null(http_store_open(dir, NULL, msg, sizeof(msg)));
	assert_non_null(strstr(msg, "no page"));
	rm_tree(dir);
	msg[0] = '\0';
	assert_null(http_store_open("/nonexistent/test_http_root", NULL, msg, sizeof(msg)));
	assert_non_null(strstr(msg, "/nonexistent/test_http_root"));
	/* a file is not a root */
	msg[0] = '\0';
	assert_null(http_store_open("/etc/hostname", NULL, msg, sizeof(msg)));
	assert_true(strlen(msg) > 0);
}

static void test_store_no_csum_hook(void **state)
{
	struct tree *t = *state;
	struct http_store *s = http_store_open(t->root, NULL, NULL, 0);
	assert_non_null(s);
	const struct http_page *pg = http_store_lookup(s, "/", 1);
	assert_non_null(pg);
	assert_null(pg->full.csum.prefix);
	http_store_close(s);
}

static void test_content_types(void **state)
{
	(void)state;
	assert_string_equal(http_content_type("a.html"), "text/html");
	assert_string_equal(http_content_type("/x/A.JPG"), "image/jpeg");
	assert_string_equal(http_content_type("a.gif"), "image/gif");
	assert_string_equal(http_content_type("a.txt"), "text/plain");
	assert_string_equal(http_content_type("a.tar.gz"), "application/octet-stream");
	assert_string_equal(http_content_type("Makefile"), "application/octet-stream");
	assert_string_equal(http_content_type("/d.html/.png"), "application/octet-stream"); /* dotfile */
	assert_string_equal(http_content_type("/d.html/x"), "application/octet-stream");
}

/* ---- responses ---- */

static struct parsed parse_for_reply(const char *req)
{
	struct parsed r;
	parse_str(req, &r);
	assert_int_equal(r.res, HTTP_PARSE_DONE);
	return r;
}

static void expect_prefix(const struct http_piece *pc, const char *prefix)
{
	assert_true(pc->len >= strlen(prefix));
	assert_memory_equal(pc->data, prefix, strlen(prefix));
}

static void test_reply(void **state)
{
	struct tree *t = *state;
	struct http_store *s = open_tree(t);
	const struct http_page *home = http_store_lookup(s, "/", 1);
	struct http_reply rep;

	struct parsed r = parse_for_reply("GET / HTTP/1.1\r\n\r\n");
	http_reply_for(s, &r.p, false, &rep);
	assert_int_equal(rep.status, 200);
	assert_true(rep.close);
	assert_int_equal(rep.n, 1);
	assert_ptr_equal(rep.piece[0].data, home->full.data);
	assert_int_equal(rep.piece[0].len, home->full.len);
	assert_ptr_equal(rep.piece[0].csum, &home->full.csum);

	r = parse_for_reply("HEAD / HTTP/1.1\r\n\r\n");
	http_reply_for(s, &r.p, false, &rep);
	assert_int_equal(rep.n, 1);
	assert_int_equal(rep.piece[0].len, home->full.hdr_len);
	assert_ptr_equal(rep.piece[0].csum, &home->full.hdr_csum);

	/* keep-alive mode: keep-alive header, then the body */
	r = parse_for_reply("GET / HTTP/1.1\r\n\r\n");
	http_reply_for(s, &r.p, true, &rep);
	assert_false(rep.close);
	assert_int_equal(rep.n, 2);
	assert_ptr_equal(rep.piece[0].data, home->ka.data);
	assert_ptr_equal(rep.piece[1].data, home->body);
	assert_int_equal(rep.piece[1].len, home->body_len);
	/* ...unless the client says close, or speaks 1.0 without keep-alive */
	r = parse_for_reply("GET / HTTP/1.1\r\nConnection: close\r\n\r\n");
	http_reply_for(s, &r.p, true, &rep);
	assert_true(rep.close);
	assert_int_equal(rep.n, 1);
	r = parse_for_reply("GET / HTTP/1.0\r\n\r\n");
	http_reply_for(s, &r.p, true, &rep);
	assert_true(rep.close);

	r = parse_for_reply("GET /missing HTTP/1.1\r\n\r\n");
	http_reply_for(s, &r.p, false, &rep);
	assert_int_equal(rep.status, 404);
	assert_true(rep.close);
	expect_prefix(&rep.piece[0], "HTTP/1.1 404 Not Found\r\n");
	assert_non_null(find_bytes(rep.piece[0].data, rep.piece[0].len, "Connection: close\r\n\r\n", 21));
	http_reply_for(s, &r.p, true, &rep);
	assert_false(rep.close);
	assert_non_null(
	    find_bytes(rep.piece[0].data, rep.piece[0].len, "Connection: keep-alive\r\n\r\n", 26));

	r = parse_for_reply("PUT / HTTP/1.1\r\n\r\n");
	http_reply_for(s, &r.p, false, &rep);
	assert_int_equal(rep.status, 405);
	expect_prefix(&rep.piece[0], "HTTP/1.1 405 Method Not Allowed\r\n");
	assert_non_null(find_bytes(rep.piece[0].data, rep.piece[0].len, "Allow: GET, HEAD\r\n", 18));

	/* errors that break the stream close even in keep-alive mode */
	static const struct {
		const char *req;
		const char *line;
	} errs[] = {
	    {"GET /a%zz HTTP/1.1\r\n\r\n", "HTTP/1.1 400 Bad Request\r\n"},
	    {"GET / HTTP/2.0\r\n\r\n", "HTTP/1.1 505 HTTP Version Not Supported\r\n"},
	};
	for (size_t i = 0; i < 2; i++) {
		r = parse_for_reply(errs[i].req);
		http_reply_for(s, &r.p, true, &rep);
		assert_true(rep.close);
		expect_prefix(&rep.piece[0], errs[i].line);
		assert_ptr_equal(rep.piece[0].csum->data, rep.piece[0].data);
		assert_int_equal(rep.piece[0].csum->len, rep.piece[0].len);
	}
	/* so do the body errors: 411 and 413 */
	r = parse_for_reply("GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");
	http_reply_for(s, &r.p, true, &rep);
	assert_true(rep.close);
	expect_prefix(&rep.piece[0], "HTTP/1.1 411 Length Required\r\n");
	assert_non_null(find_bytes(rep.piece[0].data, rep.piece[0].len, "Connection: close\r\n\r\n", 21));
	r = parse_for_reply("GET / HTTP/1.1\r\nContent-Length: 100000\r\n\r\n");
	http_reply_for(s, &r.p, true, &rep);
	assert_true(rep.close);
	expect_prefix(&rep.piece[0], "HTTP/1.1 413 Content Too Large\r\n");
	char *big = make_line(HTTP_LINE_MAX + 1, "\r\n\r\n");
	r = parse_for_reply(big);
	free(big);
	http_reply_for(s, &r.p, true, &rep);
	assert_true(rep.close);
	expect_prefix(&rep.piece[0], "HTTP/1.1 414 URI Too Long\r\n");

	/* HEAD of a missing page: the header only, whose length says so */
	r = parse_for_reply("HEAD /missing HTTP/1.1\r\n\r\n");
	http_reply_for(s, &r.p, false, &rep);
	assert_int_equal(rep.status, 404);
	assert_int_equal(rep.piece[0].data[rep.piece[0].len - 1], '\n');
	assert_memory_equal(rep.piece[0].data + rep.piece[0].len - 4, "\r\n\r\n", 4);
	http_store_close(s);
}

/* Names beginning with a dot (.git/, .env, anywhere in the path) are not
 * loaded unless allow_dotfiles: no URL reaches them, encoded or not. */
static void test_store_dotfiles(void **state)
{
	struct tree *t = *state;
	write_file(t->root, ".env", "SECRET=1", 8);
	mkdir_in(t->root, ".git");
	write_file(t->root, ".git/config", "[core]", 6);
	write_file(t->root, "dir/.htpasswd", "u:p", 3);
	mkdir_in(t->root, "dir/.cache");
	write_file(t->root, "dir/.cache/page.html", "cached", 6);
	write_file(t->root, "dir/not.dot.txt", "ok", 2); /* a dot inside a name is fine */
	static const char *const dots[] = {"/.env", "/.git/config", "/dir/.htpasswd", "/dir/.cache/page.html"};

	struct http_store *s = open_tree(t);
	uint32_t pages = http_store_pages(s), skipped = http_store_skipped(s);
	for (size_t i = 0; i < 4; i++)
		assert_null(http_store_lookup(s, dots[i], strlen(dots[i])));
	assert_non_null(http_store_lookup(s, "/dir/not.dot.txt", 16));
	for (uint32_t i = 0; i < pages; i++) {
		const struct http_page *pg = http_store_page(s, i);
		assert_null(find_bytes(pg->full.data, pg->full.len, "SECRET", 6));
		assert_null(find_bytes(pg->full.data, pg->full.len, "[core]", 6));
		assert_null(find_bytes(pg->full.data, pg->full.len, "cached", 6));
	}
	/* the request path is decoded first: %2e is no way around it */
	struct parsed r = parse_for_reply("GET /%2eenv HTTP/1.1\r\n\r\n");
	struct http_reply rep;
	http_reply_for(s, &r.p, false, &rep);
	assert_int_equal(rep.status, 404);
	http_store_close(s);

	struct http_store_opts o = {.csum_build = fake_csum_build, .csum_free = fake_csum_free, .allow_dotfiles = true};
	char msg[256] = "";
	s = http_store_open(t->root, &o, msg, sizeof(msg));
	assert_non_null(s);
	assert_int_equal(http_store_pages(s), pages + 4);
	assert_int_equal(http_store_skipped(s), skipped - 4); /* .env, .git/, dir/.htpasswd, dir/.cache/ */
	expect_page(s, "/.env", "application/octet-stream", "SECRET=1", 8);
	for (size_t i = 0; i < 4; i++)
		assert_non_null(http_store_lookup(s, dots[i], strlen(dots[i])));
	http_store_close(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_get_simple),
	    cmocka_unit_test(test_head_and_versions),
	    cmocka_unit_test(test_incomplete_is_more),
	    cmocka_unit_test(test_status_400),
	    cmocka_unit_test(test_status_400_decided_early),
	    cmocka_unit_test(test_traversal),
	    cmocka_unit_test(test_status_405),
	    cmocka_unit_test(test_status_414),
	    cmocka_unit_test(test_status_431),
	    cmocka_unit_test(test_status_505),
	    cmocka_unit_test(test_percent_decoding),
	    cmocka_unit_test(test_absolute_form),
	    cmocka_unit_test(test_connection_header),
	    cmocka_unit_test(test_pipelined),
	    cmocka_unit_test(test_body_skipped),
	    cmocka_unit_test(test_body_of_other_method),
	    cmocka_unit_test(test_body_refused),
	    cmocka_unit_test(test_split_every_boundary),
	    cmocka_unit_test(test_content_types),
	    cmocka_unit_test_setup_teardown(test_store_load, tree_setup, tree_teardown),
	    cmocka_unit_test_setup_teardown(test_store_index_mapping, tree_setup, tree_teardown),
	    cmocka_unit_test_setup_teardown(test_store_symlinks, tree_setup, tree_teardown),
	    cmocka_unit_test_setup_teardown(test_store_dotfiles, tree_setup, tree_teardown),
	    cmocka_unit_test_setup_teardown(test_store_no_csum_hook, tree_setup, tree_teardown),
	    cmocka_unit_test_setup_teardown(test_reply, tree_setup, tree_teardown),
	    cmocka_unit_test(test_store_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
