/* HTTP/1.x request parser (RFC 9112) and response selection: one byte at a
 * time through a small state machine, so a request split at any byte
 * boundary parses the same; errors are decided as early as they are known. */
#include "http_parse.h"

#include <string.h>

enum {
	S_START = 0, /* before the method; empty lines skipped (RFC 9112 2.2) */
	S_METHOD,
	S_TARGET, /* first byte of the request-target */
	S_ABS,	  /* absolute-form "scheme://authority" before the path (RFC 9112 3.2.2) */
	S_PATH,
	S_PCT1, /* after '%' */
	S_PCT2, /* after '%X' */
	S_QUERY,
	S_VER, /* "HTTP/" */
	S_VMAJ,
	S_VDOT,
	S_VMIN,
	S_VEND,	  /* after the minor digit: CR or LF */
	S_RL_CR,  /* CR ending the request line seen */
	S_HSTART, /* start of a header line (or the empty line) */
	S_HNAME,
	S_HVALUE,
	S_HCR,	 /* CR ending a field line seen */
	S_ENDCR, /* CR of the empty line seen */
	S_BODY,	 /* skipping body_left bytes of a declared body */
	S_DONE,
};

#define BLANK_MAX 16 /* empty lines tolerated before a request line */

/* The field names the parser notes, lowercase, by HTTP_HF_*. */
static const struct {
	const char *name;
	uint8_t len;
} fields[] = {
    [HTTP_HF_CONNECTION] = {"connection", 10},
    [HTTP_HF_CONTENT_LENGTH] = {"content-length", 14},
    [HTTP_HF_TRANSFER_ENCODING] = {"transfer-encoding", 17},
};

void http_parser_init(struct http_parser *p)
{
	/* The path buffer is not cleared: path_len says what is valid. */
	memset(p, 0, offsetof(struct http_parser, path));
	p->path[0] = '\0';
}

/* RFC 9110 5.6.2 tchar */
static bool is_tchar(uint8_t c)
{
	if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
		return true;
	return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static int hexval(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static uint8_t lower(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') ? (uint8_t)(c + 32) : c;
}

static void path_put(struct http_parser *p, uint8_t c)
{
	if (p->path_len < HTTP_PATH_MAX)
		p->path[p->path_len++] = (char)c;
	else
		p->path_long = true;
}

/* A ".." segment anywhere in the decoded path (so "%2e%2e" counts too). */
static bool path_traverses(const struct http_parser *p)
{
	const char *s = p->path, *end = p->path + p->path_len;
	while (s < end) {
		const char *seg = s;
		while (s < end && *s != '/')
			s++;
		if (s - seg == 2 && seg[0] == '.' && seg[1] == '.')
			return true;
		s++;
	}
	return false;
}

/* Tokens of a Connection value (RFC 9110 7.6.1), comma separated. */
static void conn_value(struct http_parser *p)
{
	const char *s = p->vbuf, *end = p->vbuf + p->vlen;
	while (s < end) {
		while (s < end && (*s == ' ' || *s == '\t' || *s == ','))
			s++;
		const char *tok = s;
		while (s < end && *s != ',' && *s != ' ' && *s != '\t')
			s++;
		size_t n = (size_t)(s - tok);
		if (n == 5 && memcmp(tok, "close", 5) == 0)
			p->conn |= HTTP_CONN_CLOSE;
		else if (n == 10 && memcmp(tok, "keep-alive", 10) == 0)
			p->conn |= HTTP_CONN_KEEPALIVE;
	}
}

static void method_end(struct http_parser *p)
{
	if (p->mlen == 3 && memcmp(p->mbuf, "GET", 3) == 0)
		p->method = HTTP_METHOD_GET;
	else if (p->mlen == 4 && memcmp(p->mbuf, "HEAD", 4) == 0)
		p->method = HTTP_METHOD_HEAD;
	else
		p->method = HTTP_METHOD_OTHER;
}

/* The path ended (at '?' or SP): refuse traversal before going on. */
static bool path_end(struct http_parser *p)
{
	if (path_traverses(p)) {
		p->status = 400;
		return false;
	}
	return true;
}

/* The first byte of a field name. */
static void name_start(struct http_parser *p, uint8_t c)
{
	p->hname = 1;
	p->hcand = 0;
	p->hfield = 0;
	for (unsigned f = HTTP_HF_CONNECTION; f <= HTTP_HF_TRANSFER_ENCODING; f++)
		if ((uint8_t)fields[f].name[0] == lower(c))
			p->hcand |= (uint8_t)(1u << f);
}

/* Another byte of a field name. */
static void name_more(struct http_parser *p, uint8_t c)
{
	for (unsigned f = HTTP_HF_CONNECTION; f <= HTTP_HF_TRANSFER_ENCODING; f++)
		if ((p->hcand & (1u << f)) && (p->hname >= fields[f].len || (uint8_t)fields[f].name[p->hname] != lower(c)))
			p->hcand &= (uint8_t) ~(1u << f);
	if (p->hname < 255)
		p->hname++;
}

/* The colon: which noted field, if any, this is. */
static void name_end(struct http_parser *p)
{
	p->hfield = 0;
	for (unsigned f = HTTP_HF_CONNECTION; f <= HTTP_HF_TRANSFER_ENCODING; f++)
		if ((p->hcand & (1u << f)) && p->hname == fields[f].len)
			p->hfield = (uint8_t)f;
	p->vlen = 0;
	p->lval = 0;
	p->lstate = 0;
	if (p->hfield == HTTP_HF_TRANSFER_ENCODING)
		p->has_te = true;
}

/* A byte of a Content-Length value: 1*DIGIT with optional whitespace
 * around (RFC 9110 8.6). No list, no sign: false for anything else. */
static bool length_byte(struct http_parser *p, uint8_t c)
{
	if (c >= '0' && c <= '9') {
		if (p->lstate == 2)
			return false;
		p->lstate = 1;
		p->lval = p->lval * 10u + (uint64_t)(c - '0');
		if (p->lval > HTTP_BODY_MAX)
			p->lval = HTTP_BODY_MAX + 1u; /* saturated: too large either way */
		return true;
	}
	if (c == ' ' || c == '\t') {
		if (p->lstate == 1)
			p->lstate = 2;
		return true;
	}
	return false;
}

/* The end of a field line. false: the field makes the request invalid. */
static bool field_end(struct http_parser *p)
{
	if (p->hfield == HTTP_HF_CONNECTION) {
		conn_value(p);
	} else if (p->hfield == HTTP_HF_CONTENT_LENGTH) {
		/* RFC 9112 6.3: an invalid or conflicting length is an
		 * unrecoverable framing error. */
		if (p->lstate == 0 || (p->has_len && p->lval != p->body_len))
			return false;
		p->has_len = true;
		p->body_len = p->lval;
	}
	return true;
}

/* The empty line ended the header: decide how the body is framed (RFC
 * 9112 6.3). true: the request is complete (p->status says how); false:
 * a body follows, to skip. */
static bool header_end(struct http_parser *p)
{
	if (p->has_te) {
		/* No chunked decoder here: a length is required (411). With a
		 * Content-Length too, or in HTTP/1.0, the framing is ambiguous:
		 * a smuggling attempt as likely as not (400). */
		p->status = (p->has_len || p->minor == 0) ? 400 : 411;
		return true;
	}
	if (p->has_len && p->body_len > HTTP_BODY_MAX) {
		p->status = 413;
		return true;
	}
	if (p->has_len && p->body_len > 0) {
		p->body_left = p->body_len;
		p->state = S_BODY;
		return false;
	}
	if (p->method == HTTP_METHOD_OTHER)
		p->status = 405;
	return true;
}

enum http_parse_result http_parse(struct http_parser *p, const uint8_t *buf, size_t len, size_t *used)
{
	size_t i = 0;
	if (p->state == S_DONE) {
		*used = 0;
		return HTTP_PARSE_DONE;
	}
	for (; i < len; i++) {
		if (p->state == S_BODY) {
			/* The body is skipped whole, never parsed. */
			size_t n = len - i < p->body_left ? len - i : (size_t)p->body_left;
			p->body_left -= n;
			i += n;
			if (p->body_left > 0)
				break;
			if (p->method == HTTP_METHOD_OTHER)
				p->status = 405;
			p->state = S_DONE;
			*used = i;
			return HTTP_PARSE_DONE;
		}
		uint8_t c = buf[i];
		if (p->state >= S_METHOD && p->state <= S_VMIN) {
			if (++p->line_len > HTTP_LINE_MAX) {
				p->status = 414;
				goto done;
			}
		} else if (p->state >= S_HSTART && p->state <= S_HCR) {
			if (++p->hdr_len > HTTP_HEADER_MAX) {
				p->status = 431;
				goto done;
			}
		}
		switch (p->state) {
		case S_START:
			if (c == '\r' || c == '\n') {
				if (++p->blank > BLANK_MAX)
					goto bad;
				break;
			}
			if (!is_tchar(c))
				goto bad;
			p->state = S_METHOD;
			p->line_len = 1;
			p->mbuf[p->mlen++] = (char)c;
			break;
		case S_METHOD:
			if (c == ' ') {
				method_end(p);
				p->state = S_TARGET;
			} else if (!is_tchar(c)) {
				goto bad;
			} else if (p->mlen < sizeof(p->mbuf)) {
				p->mbuf[p->mlen++] = (char)c;
			} else {
				p->mlen = sizeof(p->mbuf); /* longer than any method we serve */
			}
			break;
		case S_TARGET:
			if (c == '/' || c == '*') {
				path_put(p, c);
				p->state = S_PATH;
			} else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
				p->vpos = 0;
				p->state = S_ABS;
			} else {
				goto bad;
			}
			break;
		case S_ABS:
			/* scheme ":" "//" authority, then the path; vpos: 0 scheme,
			 * 1 after ':', 2 after ":/", 3 authority */
			if (c <= ' ' || c == 0x7f) {
				if (c == ' ' && p->vpos == 3) {
					path_put(p, '/'); /* "http://host" means "/" */
					p->state = S_VER;
					p->vpos = 0;
					break;
				}
				goto bad;
			}
			if (p->vpos == 0) {
				if (c == ':')
					p->vpos = 1;
				else if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
					   (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.'))
					goto bad;
			} else if (p->vpos == 1 || p->vpos == 2) {
				if (c != '/')
					goto bad;
				p->vpos++;
			} else if (c == '/') {
				path_put(p, c);
				p->state = S_PATH;
			} else if (c == '?') {
				path_put(p, '/');
				p->state = S_QUERY;
			}
			break;
		case S_PATH:
			if (c == ' ') {
				if (!path_end(p))
					goto done;
				p->state = S_VER;
				p->vpos = 0;
			} else if (c == '?' || c == '#') {
				if (!path_end(p))
					goto done;
				p->state = S_QUERY;
			} else if (c == '%') {
				p->state = S_PCT1;
			} else if (c < 0x21 || c == 0x7f) {
				goto bad; /* control bytes; CR/LF here is HTTP/0.9 */
			} else {
				path_put(p, c);
			}
			break;
		case S_PCT1:
			if (hexval(c) < 0)
				goto bad;
			p->pct_hi = (uint8_t)hexval(c);
			p->state = S_PCT2;
			break;
		case S_PCT2: {
			if (hexval(c) < 0)
				goto bad;
			uint8_t d = (uint8_t)(p->pct_hi << 4 | hexval(c));
			if (d == 0)
				goto bad; /* NUL in a path name */
			path_put(p, d);
			p->state = S_PATH;
			break;
		}
		case S_QUERY:
			if (c == ' ') {
				p->state = S_VER;
				p->vpos = 0;
			} else if (c < 0x21 || c == 0x7f) {
				goto bad;
			}
			break;
		case S_VER:
			if (c != (uint8_t) "HTTP/"[p->vpos])
				goto bad;
			if (++p->vpos == 5)
				p->state = S_VMAJ;
			break;
		case S_VMAJ:
			if (c < '0' || c > '9')
				goto bad;
			p->major = (uint8_t)(c - '0');
			p->state = S_VDOT;
			break;
		case S_VDOT:
			if (c != '.')
				goto bad;
			p->state = S_VMIN;
			break;
		case S_VMIN:
			if (c < '0' || c > '9')
				goto bad;
			p->minor = (uint8_t)(c - '0');
			p->state = S_VEND;
			break;
		case S_VEND: /* the terminator is not part of the line's length */
			if (c == '\r') {
				p->state = S_RL_CR;
				break;
			}
			if (c != '\n')
				goto bad;
			/* A bare LF ends the line too (RFC 9112 2.2). */
			/* fall through */
		case S_RL_CR:
			if (c != '\n')
				goto bad;
			if (p->major != 1) {
				p->status = 505;
				goto done;
			}
			p->state = S_HSTART;
			break;
		case S_HSTART:
			if (c == '\r') {
				p->state = S_ENDCR;
			} else if (c == '\n') {
				if (header_end(p))
					goto done;
			} else if (c == ' ' || c == '\t') {
				/* obs-fold continuation: ignored, except after a
				 * field that frames the body (RFC 9112 5.2) */
				if (p->hfield == HTTP_HF_CONTENT_LENGTH || p->hfield == HTTP_HF_TRANSFER_ENCODING)
					goto bad;
				p->hfield = 0;
				p->state = S_HVALUE;
			} else if (c == ':') {
				goto bad;
			} else {
				name_start(p, c);
				p->state = S_HNAME;
			}
			break;
		case S_HNAME:
			if (c == ':') {
				name_end(p);
				p->state = S_HVALUE;
			} else if (c == '\r' || c == '\n' || c == ' ' || c == '\t') {
				goto bad; /* RFC 9112 5.1: no whitespace before the colon */
			} else {
				name_more(p, c);
			}
			break;
		case S_HVALUE:
			if (c == '\r') {
				p->state = S_HCR;
				break;
			}
			if (c != '\n') {
				if (p->hfield == HTTP_HF_CONNECTION && p->vlen < sizeof(p->vbuf))
					p->vbuf[p->vlen++] = (char)lower(c);
				else if (p->hfield == HTTP_HF_CONTENT_LENGTH && !length_byte(p, c))
					goto bad;
				break;
			}
			/* A bare LF ends the field line. */
			/* fall through */
		case S_HCR:
			if (c != '\n')
				goto bad;
			if (!field_end(p))
				goto bad;
			p->state = S_HSTART; /* hfield kept for an obs-fold check */
			break;
		case S_ENDCR:
			if (c != '\n')
				goto bad;
			if (header_end(p))
				goto done;
			break;
		case S_BODY: /* handled before the switch */
			break;
		case S_DONE:
			goto done;
		}
	}
	*used = i;
	return HTTP_PARSE_MORE;
bad:
	p->status = 400;
done:
	p->state = S_DONE;
	*used = i < len ? i + 1 : len;
	return HTTP_PARSE_DONE;
}

bool http_parser_wants_keepalive(const struct http_parser *p)
{
	if (p->conn & HTTP_CONN_CLOSE)
		return false;
	if (p->conn & HTTP_CONN_KEEPALIVE)
		return true;
	return p->major == 1 && p->minor >= 1;
}

static const struct usn_csum_table *table_of(const struct usn_csum_table *t)
{
	return t->prefix ? t : NULL;
}

void http_reply_for(const struct http_store *s, const struct http_parser *p, bool keepalive_mode,
		    struct http_reply *r)
{
	memset(r, 0, sizeof(*r));
	bool ka = keepalive_mode && http_parser_wants_keepalive(p);
	bool head = p->method == HTTP_METHOD_HEAD;
	unsigned status = p->status;
	if (status == 0) {
		const struct http_page *pg = p->path_long ? NULL : http_store_lookup(s, p->path, p->path_len);
		if (pg) {
			r->status = 200;
			r->close = !ka;
			if (!ka) {
				r->piece[0].data = pg->full.data;
				r->piece[0].len = head ? pg->full.hdr_len : pg->full.len;
				r->piece[0].csum = table_of(head ? &pg->full.hdr_csum : &pg->full.csum);
				r->n = 1;
			} else {
				/* Keep-alive answers are two references: the
				 * keep-alive header, then the body. The body's
				 * bytes start at an offset of the summed buffer, so
				 * it goes without a table (the stack sums it):
				 * keep-alive is not the benchmark mode. */
				r->piece[0].data = pg->ka.data;
				r->piece[0].len = pg->ka.len;
				r->piece[0].csum = table_of(&pg->ka.csum);
				r->n = 1;
				if (!head && pg->body_len) {
					r->piece[1].data = pg->body;
					r->piece[1].len = pg->body_len;
					r->piece[1].csum = NULL;
					r->n = 2;
				}
			}
			return;
		}
		status = 404;
	}
	if (status != 404 && status != 405)
		ka = false;
	const struct http_resp *e = http_store_error(s, status, ka);
	r->status = (uint16_t)status;
	r->close = !ka;
	r->piece[0].data = e->data;
	r->piece[0].len = head ? e->hdr_len : e->len;
	r->piece[0].csum = table_of(head ? &e->hdr_csum : &e->csum);
	r->n = 1;
}
