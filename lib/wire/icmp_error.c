/* libusnet ICMP error messages (RFC 792, RFC 1122 3.2.2): which types are
 * errors (never answered with one), and the emit of an error's 8-byte
 * header over the precomputed sum of the quote that follows it. */
#include "usnet/csum.h"
#include "wire/wire.h"

#define ICMP_ERR_HDR_LEN 8

bool usn_icmp_type_is_error(uint8_t type)
{
	switch (type) {
	case 0:  /* echo reply */
	case 8:  /* echo request */
	case 13: /* timestamp */
	case 14: /* timestamp reply */
	case 15: /* information request */
	case 16: /* information reply */
	case 17: /* address mask request */
	case 18: /* address mask reply */
		return false;
	default:
		return true;
	}
}

void usn_icmp_error_emit(uint8_t type, uint8_t code, uint32_t rest, uint8_t *p, uint32_t data_sum)
{
	p[0] = type;
	p[1] = code;
	usn_store_be16(p + 2, 0);
	usn_store_be32(p + 4, rest);
	usn_store_be16(p + 2, usn_csum_finish(usn_csum_partial(p, ICMP_ERR_HDR_LEN, data_sum)));
}
