/* libusnet Linux packet port: the virtio-net header (linux/virtio_net.h) that
 * precedes each frame on a PACKET_VNET_HDR socket, translated to and from the
 * usn_buf offload fields (include/usnet/hal.h). Pure functions over bytes,
 * so tests/unit/port/test_pport.c checks them without a socket. */
#include <linux/if_packet.h>
#include <linux/virtio_net.h>
#include <string.h>

#include "pport.h"
#include "usnet/csum.h"

/* Legacy virtio headers are in the host's byte order on a packet socket
 * (the kernel's vio_le() is true exactly on little-endian hosts). */
static uint16_t ld16(const uint8_t *p)
{
	uint16_t v;
	memcpy(&v, p, 2);
	return v;
}

static void st16(uint8_t *p, uint16_t v)
{
	memcpy(p, &v, 2);
}

static uint16_t ld_be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* Whether the partial checksum at csum_start/csum_off of frame[0..len) is
 * the checksum of protocol proto (its field at sum_off in the header) of an
 * IPv4 packet (Ethernet, optionally one VLAN tag). */
static bool at_l4_sum(const uint8_t *frame, uint32_t len, uint32_t csum_start, uint32_t csum_off, uint8_t proto,
		      uint32_t sum_off)
{
	uint32_t l2 = 14;
	uint16_t type;

	if (len < l2 + 20)
		return false;
	type = ld_be16(frame + 12);
	if (type == 0x8100) {
		l2 = 18;
		if (len < l2 + 20)
			return false;
		type = ld_be16(frame + 16);
	}
	if (type != 0x0800 || (frame[l2] >> 4) != 4 || (frame[l2] & 15u) < 5 || frame[l2 + 9] != proto)
		return false;
	return csum_start == l2 + (frame[l2] & 15u) * 4u && csum_off == sum_off;
}

/* Whether frame[0..len) is an IPv6 packet (its fixed header at l2) whose
 * next header is TCP or UDP with its header present: the kernel leaves a
 * partial sum only there (a plain frame gives no offsets to check). */
static bool at_l4_sum6(const uint8_t *frame, uint32_t len, uint32_t l2)
{
	if (len < l2 + 40 || ld_be16(frame + l2 - 2) != 0x86dd || (frame[l2] >> 4) != 6)
		return false;
	uint8_t nh = frame[l2 + 6];
	return (nh == 6 && len >= l2 + 40 + 20) || (nh == 17 && len >= l2 + 40 + 8);
}

static bool at_tcp_sum(const uint8_t *frame, uint32_t len, uint32_t csum_start, uint32_t csum_off)
{
	return at_l4_sum(frame, len, csum_start, csum_off, 6, 16);
}

bool usn_pport_rx_meta(const uint8_t *vnet, uint32_t tp_status, uint8_t *frame, uint32_t len, bool whole,
		       uint16_t *flags, uint16_t *seg_size, bool *partial, bool *sw)
{
	*flags = 0;
	*seg_size = 0;
	*partial = false;
	*sw = false;
	if (!vnet) {
		/* Plain frames: the TPACKET status says as much, without the
		 * offsets. A partial sum is taken where it is a TCP or UDP one
		 * over IPv4 or IPv6 (a local sender's: the bytes never crossed
		 * a wire). */
		if (tp_status & TP_STATUS_CSUM_VALID) {
			*flags |= USN_BUF_RX_L4_CSUM_GOOD;
		} else if (tp_status & TP_STATUS_CSUMNOTREADY) {
			uint32_t l2 = len >= 14 && ld_be16(frame + 12) == 0x8100 ? 18u : 14u;
			uint32_t l4 = len >= l2 + 20 ? l2 + (frame[l2] & 15u) * 4u : 0;
			if ((l4 && (at_tcp_sum(frame, len, l4, 16) || at_l4_sum(frame, len, l4, 6, 17, 6))) ||
			    at_l4_sum6(frame, len, l2)) {
				*flags |= USN_BUF_RX_L4_CSUM_GOOD;
				*partial = true;
			}
		}
		return true;
	}

	uint8_t vflags = vnet[0], gso = vnet[1];
	uint16_t gso_size = ld16(vnet + 4), csum_start = ld16(vnet + 6), csum_off = ld16(vnet + 8);

	if ((gso & (uint8_t)~VIRTIO_NET_HDR_GSO_ECN) != VIRTIO_NET_HDR_GSO_NONE) {
		*flags |= USN_BUF_RX_COALESCED;
		*seg_size = gso_size;
	}
	if (vflags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
		/* A local sender (a veth's kernel peer with checksum offload
		 * on) left the sum for the device: the field holds only the
		 * pseudo-header sum, and the bytes never crossed a wire. */
		if ((uint32_t)csum_start + csum_off + 2u > len)
			return false;
		if (at_tcp_sum(frame, len, csum_start, csum_off)) {
			*flags |= USN_BUF_RX_L4_CSUM_GOOD;
			*partial = true;
		} else if (!whole) {
			return false;
		} else {
			/* Anything else is finished here, as the kernel's
			 * skb_checksum_help would, and checked by the stack. */
			uint32_t sum = usn_csum_partial(frame + csum_start, len - csum_start, 0);
			uint16_t v = usn_csum_finish(sum);

			if (v == 0)
				v = 0xffff;
			frame[csum_start + csum_off] = (uint8_t)(v >> 8);
			frame[csum_start + csum_off + 1] = (uint8_t)v;
			*sw = true;
		}
	} else if (vflags & VIRTIO_NET_HDR_F_DATA_VALID) {
		/* The kernel (or the device) verified the TCP/UDP sum; the
		 * IPv4 header sum it does not vouch for (Linux checks it in
		 * ip_rcv whatever the device says), so the stack does. */
		*flags |= USN_BUF_RX_L4_CSUM_GOOD;
	}
	return true;
}

void usn_pport_tx_vnet(const struct usn_buf *b, uint8_t vnet[USN_PPORT_VNET_LEN])
{
	memset(vnet, 0, USN_PPORT_VNET_LEN);
	if (!(b->flags & (USN_BUF_TX_TCP_CSUM | USN_BUF_TX_TCP_SEG)))
		return;
	/* The stack left the pseudo-header sum in the TCP sum field: the
	 * kernel (or the device) adds the rest from csum_start on. */
	vnet[0] = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	st16(vnet + 6, (uint16_t)(b->l2_len + b->l3_len));
	st16(vnet + 8, 16);
	if ((b->flags & USN_BUF_TX_TCP_SEG) && b->seg_size) {
		uint32_t hdr = (uint32_t)b->l2_len + b->l3_len + b->l4_len;

		/* One segment's worth or less needs no cutting. */
		if (b->frame_len > hdr + b->seg_size) {
			vnet[1] = VIRTIO_NET_HDR_GSO_TCPV4;
			st16(vnet + 2, (uint16_t)hdr);
			st16(vnet + 4, b->seg_size);
		}
	}
}
