/* libusnet fuzz target fuzz_tcp_opts (tests/fuzz): well-framed TCP segments
 * with fuzzed headers (every option kind, bad option lengths, data offset
 * lies, MSS 0, window scale over 14, SACK blocks anywhere, urgent pointer,
 * every flag combination) aimed at the fixture's connections in SYN-RECEIVED,
 * ESTABLISHED, CLOSE-WAIT, FIN-WAIT-1/2, CLOSING, LAST-ACK, TIME-WAIT, the
 * close-pending states, SYN-SENT, and at new ones the input opens.
 *
 * Input: [0] stack variant, then records of 15 bytes plus options:
 *   [flow][flags][seq 2][ack 2][window 2][urgent 2][mode][doff][olen]
 *   [olen % 41 bytes of options][plen][dt]
 * flow: fixture flow (mod count), or with bit 7 a new flow from port
 * 50000 + (flow & 127). seq/ack are signed offsets (mode bits 0-1 / 2-3):
 * 0 from what the flow expects (seq: the stack's RCV.NXT; ack: its SND.MAX),
 * 1 the same times 1024, 2 the offset << 16 absolute, 3 seq: from the
 * peer's ISN, ack: from the peer's last ACK (so 0 is a duplicate ACK). mode bit 4: bad checksum;
 * bit 5: options relative (TS values and SACK edges offset from the flow's,
 * TS appended when the flow uses it); bit 6: payload plen * 16 bytes.
 * doff: 0 honest, else the data offset field as sent. */
#include <string.h>

#include "fuzz_fixture.h"
#include "fuzz_targets.h"
#include "wire/wire.h"

#define OPTS_MAX_RECORDS 64
#define OPTS_REC_FIXED 13 /* bytes before the options */

static uint32_t opts_base(uint8_t m, int16_t d, uint32_t nxt, uint32_t iss)
{
	switch (m & 3) {
	case 0:
		return nxt + (uint32_t)(int32_t)d;
	case 1:
		return nxt + (uint32_t)((int32_t)d * 1024);
	case 2:
		return (uint32_t)(uint16_t)d << 16;
	default:
		return iss + (uint32_t)(int32_t)d;
	}
}

/* Offsets TS values and SACK edges by the flow's numbers, so a mutation
 * lands near the window instead of 2^32 away; appends TS if missing. */
static uint8_t opts_relative(struct fz *f, const struct fz_flow *fl, uint8_t *o, uint8_t n)
{
	bool has_ts = false;
	for (uint8_t i = 0; i < n;) {
		uint8_t kind = o[i];
		if (kind == 0)
			break;
		if (kind == 1) {
			i++;
			continue;
		}
		if (i + 1 >= n || o[i + 1] < 2 || i + o[i + 1] > n)
			break;
		uint8_t len = o[i + 1];
		if (kind == 8 && len == 10) {
			has_ts = true;
			usn_store_be32(o + i + 2, usn_load_be32(o + i + 2) + f->peer_ts);
			usn_store_be32(o + i + 6, usn_load_be32(o + i + 6) + fl->stack_tsval);
		} else if (kind == 5) {
			for (uint8_t k = 2; k + 4 <= len; k += 4)
				usn_store_be32(o + i + k, usn_load_be32(o + i + k) + fl->stack_nxt);
		}
		i += len;
	}
	if (!has_ts && fl->ts_ok && n + 12 <= 40)
		n += fz_ts_option(f, fl, o + n);
	return n;
}

static struct fz_flow *opts_flow(struct fz *f, uint8_t k)
{
	if (!(k & 0x80))
		return f->n_flows ? &f->flow[k % f->n_flows] : NULL;
	uint16_t port = (uint16_t)(50000 + (k & 0x7f));
	for (unsigned i = 0; i < f->n_flows; i++)
		if (f->flow[i].peer_port == port && f->flow[i].stack_port == FZ_HTTP_PORT)
			return &f->flow[i];
	return fz_flow_new(f, port, FZ_REPLY_CLOSE);
}

int fuzz_tcp_opts_one(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	struct fz fz;
	struct fz *f = &fz;
	struct fz_options o;
	fz_options_from_byte(&o, data[0]);
	fz_setup(f, &o);
	size_t i = 1;
	for (int r = 0; r < OPTS_MAX_RECORDS && i + OPTS_REC_FIXED <= size; r++) {
		const uint8_t *p = data + i;
		uint8_t mode = p[10], doff = p[11];
		uint8_t olen = (uint8_t)(p[12] % 41);
		i += OPTS_REC_FIXED;
		if (olen > size - i)
			olen = (uint8_t)(size - i);
		uint8_t opts[40 + 12];
		memcpy(opts, data + i, olen);
		i += olen;
		uint8_t plen = i < size ? data[i++] : 0;
		uint8_t dt = i < size ? data[i++] : 0;

		struct fz_flow *fl = opts_flow(f, p[0]);
		if (!fl)
			continue;
		struct fz_seg s;
		fz_seg_for_flow(f, fl, &s);
		s.flags = p[1];
		s.seq = opts_base(mode, (int16_t)usn_load_be16(p + 2), fl->peer_nxt, fl->peer_iss);
		s.ack = opts_base((uint8_t)(mode >> 2), (int16_t)usn_load_be16(p + 4), fl->stack_nxt, fl->peer_ack);
		s.window = usn_load_be16(p + 6);
		s.urgent = usn_load_be16(p + 8);
		s.bad_csum = (mode & 16) != 0;
		if (mode & 32)
			olen = opts_relative(f, fl, opts, olen);
		s.opts = opts;
		s.olen = olen;
		s.doff = doff & 15;
		s.plen = (uint16_t)((mode & 64) ? plen * 16u : plen);
		fz_send_seg(f, fl, &s);
		fz_advance(f, fz_time_of_byte(dt));
	}
	fz_teardown(f);
	return 0;
}
