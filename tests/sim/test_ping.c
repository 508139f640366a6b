/* Simulation test: two stacks on a link that loses 20% of frames each way
 * resolve each other by ARP and exchange ICMP echoes; every counter of
 * each stack agrees with what the link says crossed it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "core/worker.h"
#include "net/net.h"
#include "netfix.h"
#include "simnet.h"

#define N_PINGS 200

static int send_ping(struct usn_worker *w, uint32_t dst, uint16_t seq)
{
	struct usn_buf *b = usn_worker_buf_alloc(w);
	assert_non_null(b);
	uint8_t data[32];
	memset(data, (int)seq, sizeof(data));
	size_t l4 = netfix_icmp_echo(b->data + USN_L4_OFF, 8, 0x7777, seq, data, sizeof(data));
	b->len = (uint16_t)(USN_L4_OFF + l4);
	b->frame_len = b->len;
	return usn_ipv4_output(w, b, dst, USN_IPPROTO_ICMP, (uint16_t)l4);
}

/* Frames a stack put on the wire, from its own counters. `extra` is what the
 * test itself handed to IPv4 output successfully. */
static uint64_t expected_tx(const struct usn_stats *s, uint64_t extra)
{
	return s->arp_requests_tx + s->arp_replies_tx + s->arp_gratuitous_tx + s->icmp_echo_tx + extra -
	       s->drop_arp_unresolved - s->drop_arp_queue_full;
}

static uint64_t accounted_rx(const struct usn_stats *s)
{
	return s->arp_requests_rx + s->arp_replies_rx + s->icmp_echo_rx + s->drop_icmp_type;
}

static void run_ping(uint64_t seed, double loss, uint64_t *arp_failed)
{
	struct simnet n;
	simnet_init(&n, seed);
	struct simnet_host *a = simnet_add_host(&n, SIMNET_IP(0, 1), NULL, NULL);
	struct simnet_host *b = simnet_add_host(&n, SIMNET_IP(0, 2), NULL, NULL);
	assert_non_null(a);
	assert_non_null(b);
	struct usn_sim_faults f;
	memset(&f, 0, sizeof(f));
	f.loss = loss;
	f.delay_us = 100;
	usn_sim_port_set_faults(a->port, &f);
	usn_sim_port_set_faults(b->port, &f);

	struct usn_worker *wa = usn_stack_worker(a->stack, 0);
	uint64_t sent = 0;
	for (uint16_t i = 0; i < N_PINGS; i++) {
		if (send_ping(wa, b->ip, i) == 0)
			sent++;
		simnet_run_for(&n, 20000);
	}
	simnet_run_for(&n, 5000000); /* every retry and reply settles */

	struct usn_stats sa, sb;
	usn_stack_stats(a->stack, &sa);
	usn_stack_stats(b->stack, &sb);
	struct usn_sim_port_stats pa, pb;
	usn_sim_port_stats(a->port, &pa);
	usn_sim_port_stats(b->port, &pb);

	/* The link: what one port sent and did not lose, the other received. */
	assert_int_equal(pa.duplicated + pa.reordered + pa.corrupted + pa.rx_ring_full + pa.mtu_dropped, 0);
	assert_int_equal(pb.duplicated + pb.reordered + pb.corrupted + pb.rx_ring_full + pb.mtu_dropped, 0);
	/* A's announcement went out before B's port existed: nobody heard it. */
	assert_int_equal(pb.rx_frames, pa.tx_frames - pa.lost - 1);
	assert_int_equal(pa.rx_frames, pb.tx_frames - pb.lost);
	if (loss > 0)
		assert_true(pa.lost > 0 && pb.lost > 0);

	/* Each stack agrees with its port. */
	assert_int_equal(sa.tx_frames, pa.tx_frames);
	assert_int_equal(sb.tx_frames, pb.tx_frames);
	assert_int_equal(sa.rx_frames, pa.rx_frames);
	assert_int_equal(sb.rx_frames, pb.rx_frames);
	assert_int_equal(sa.tx_full + sb.tx_full, 0);

	/* And every frame is explained by its own counters. */
	assert_int_equal(sa.tx_frames, expected_tx(&sa, sent));
	assert_int_equal(sb.tx_frames, expected_tx(&sb, 0));
	assert_int_equal(sa.rx_frames, accounted_rx(&sa));
	assert_int_equal(sb.rx_frames, accounted_rx(&sb));

	/* Echo requests B received are the ones A's frames carried; replies A
	 * got (counted as drop_icmp_type: the stack answers echoes, it does
	 * not originate them) came from B's. */
	assert_int_equal(sa.icmp_echo_rx, 0);
	assert_int_equal(sb.drop_icmp_type, 0);
	assert_true(sb.icmp_echo_rx > 0 && sb.icmp_echo_rx <= sent);
	assert_true(sa.drop_icmp_type > 0 && sa.drop_icmp_type <= sb.icmp_echo_tx);
	if (loss == 0) {
		assert_int_equal(sent, N_PINGS);
		assert_int_equal(sb.icmp_echo_rx, N_PINGS);
		assert_int_equal(sa.drop_icmp_type, N_PINGS);
		assert_int_equal(sa.arp_requests_tx, 1);
		assert_int_equal(sb.arp_requests_tx, 0); /* B learned A from A's request */
	}
	/* Both resolved each other. */
	uint8_t mac[6];
	assert_true(usn_arp_lookup(wa, b->ip, mac));
	assert_true(usn_arp_lookup(usn_stack_worker(b->stack, 0), a->ip, mac));
	*arp_failed = sa.arp_failed;
	simnet_destroy(&n);
}

static void test_ping_clean_link(void **state)
{
	(void)state;
	uint64_t failed;
	run_ping(7, 0.0, &failed);
	assert_int_equal(failed, 0);
}

static void test_ping_lossy_link(void **state)
{
	(void)state;
	uint64_t failed;
	run_ping(42, 0.2, &failed);
}

static void test_ping_lossy_link_other_seed(void **state)
{
	(void)state;
	uint64_t failed;
	run_ping(1234567, 0.2, &failed);
}

/* Half the frames lost: with this seed A's first three requests all fail,
 * its waiting echoes are dropped, and a later request succeeds. */
static void test_ping_heavy_loss_arp_fails_then_recovers(void **state)
{
	(void)state;
	uint64_t failed;
	run_ping(3, 0.5, &failed);
	assert_true(failed >= 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ping_clean_link),
		cmocka_unit_test(test_ping_lossy_link),
		cmocka_unit_test(test_ping_lossy_link_other_seed),
		cmocka_unit_test(test_ping_heavy_loss_arp_fails_then_recovers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
