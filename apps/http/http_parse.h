/* HTTP/1.x request parser shared by minimal_ws and bsd_ws: incremental (a
 * request may arrive one byte at a time), reads the request line, consumes
 * the header up to the empty line noting Connection, Content-Length and
 * Transfer-Encoding, then skips a declared body. Portable C11. */
#ifndef HTTP_PARSE_H
#define HTTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "page_store.h"

#define HTTP_LINE_MAX 8192    /* request line longer: 414 */
#define HTTP_HEADER_MAX 16384 /* header fields after the request line: 431 */
/* Largest request body skipped (Content-Length); larger: 413 and close.
 * A static server reads no body: a GET or HEAD with one is legal but rare,
 * other methods get 405 once their body has passed. */
#define HTTP_BODY_MAX 65536

enum http_method {
	HTTP_METHOD_NONE = 0,
	HTTP_METHOD_GET,
	HTTP_METHOD_HEAD,
	HTTP_METHOD_OTHER, /* a valid token we do not serve: 405 */
};

enum http_parse_result {
	HTTP_PARSE_MORE, /* every byte given was consumed; feed more */
	HTTP_PARSE_DONE, /* a request is complete, or an error was decided */
};

/* Per-connection parser state: about 1.2 KB, no pointer into the input, so
 * the bytes may come from any number of segments. */
struct http_parser {
	uint8_t state;
	uint8_t method; /* enum http_method */
	uint8_t major, minor;
	uint8_t conn;	 /* HTTP_CONN_* flags seen in Connection headers */
	uint8_t mlen;	 /* method bytes seen (capped) */
	uint8_t pct_hi;	 /* first hex digit of a %XX escape */
	uint8_t hname;	 /* bytes of this field name so far (capped at 255) */
	uint8_t hcand;	 /* HTTP_HF_* names this field name may still be (bits) */
	uint8_t hfield;	 /* the field whose value is being read: HTTP_HF_*, 0: none noted */
	bool has_len;	 /* a Content-Length field was seen */
	bool has_te;	 /* a Transfer-Encoding field was seen */
	uint8_t lstate;	 /* the Content-Length value being read: 0 before, 1 digits, 2 after */
	uint8_t vpos;	 /* progress through "HTTP/" or an absolute-form prefix */
	bool path_long;	 /* the path exceeded HTTP_PATH_MAX: no page can match */
	uint16_t status; /* 0 while the request is good; else the error to answer */
	uint16_t blank;	 /* empty lines before the request line (RFC 9112 2.2) */
	uint16_t vlen;
	uint32_t line_len; /* request-line bytes so far */
	uint32_t hdr_len;  /* header bytes so far */
	uint32_t path_len;
	uint64_t body_len;  /* the declared Content-Length (saturated above HTTP_BODY_MAX) */
	uint64_t lval;	    /* the Content-Length value being read */
	uint64_t body_left; /* body bytes still to skip */
	char mbuf[8];
	char vbuf[64]; /* the Connection field value, lowercased, truncated */
	char path[HTTP_PATH_MAX + 1];
};

enum {
	HTTP_CONN_CLOSE = 1u << 0,
	HTTP_CONN_KEEPALIVE = 1u << 1,
};

/* The header fields the parser notes. */
enum {
	HTTP_HF_CONNECTION = 1,
	HTTP_HF_CONTENT_LENGTH = 2,
	HTTP_HF_TRANSFER_ENCODING = 3,
};

/* Ready for a (next) request. */
void http_parser_init(struct http_parser *p);

/* Consumes bytes of buf[0..len) and sets *used to how many. On DONE the
 * request (or the error in p->status: 400, 411, 413, 414, 431, 505, or 405
 * once the header and body have passed) is complete and the bytes after
 * *used belong to the next request; call http_parser_init before feeding
 * them. A body declared by Content-Length (at most HTTP_BODY_MAX) is
 * consumed before DONE, so its bytes are never read as a request; a larger
 * one is 413, a Transfer-Encoding 411 (or 400 with Content-Length too, or in
 * HTTP/1.0: RFC 9112 6.1, 6.3), invalid or conflicting Content-Length 400:
 * errors that end the connection, since the stream is out of step. */
enum http_parse_result http_parse(struct http_parser *p, const uint8_t *buf, size_t len, size_t *used);

/* After DONE with status 0: does the client want the connection kept?
 * (Connection: close / keep-alive, else HTTP/1.1 yes, HTTP/1.0 no.) */
bool http_parser_wants_keepalive(const struct http_parser *p);

/* A response ready to send: one or two references into the page store. */
struct http_piece {
	const uint8_t *data;
	uint32_t len;
	const struct usn_csum_table *csum; /* over exactly these bytes, or NULL */
};

struct http_reply {
	struct http_piece piece[2];
	unsigned n;
	uint16_t status;
	bool close; /* close the connection after sending */
};

/* The response to the request the parser completed. keepalive_mode is the
 * server's mode (off: every response says Connection: close). */
void http_reply_for(const struct http_store *s, const struct http_parser *p, bool keepalive_mode,
		    struct http_reply *r);

#endif
