/* The reconnection backoff (docs/operations.md, "Paired-device
 * connections"): exponential from retry_interval (1 s by default), doubled
 * per consecutive failure, capped at 5 minutes, with +-20% jitter so that
 * devices that lost each other at the same moment (a router reboot) do not
 * retry in lockstep. The formula is a pure function so it can be tested
 * exactly; the caller draws rnd. */
#include "persist-internal.h"

uint64_t persist_backoff_ms(unsigned failures, uint64_t base_ms, uint64_t cap_ms, uint32_t rnd)
{
	if (failures == 0 || base_ms == 0)
		return 0;
	uint64_t d = base_ms;
	for (unsigned i = 1; i < failures && d < cap_ms; i++)
		d *= 2;
	if (d > cap_ms)
		d = cap_ms;
	/* factor = (800 + rnd % 400) / 1000, in [0.8, 1.2); d <= cap keeps the
	 * product far from overflow for any cap below 2^50 ms. */
	uint64_t j = d * (800 + rnd % 400) / 1000;
	return j > cap_ms ? cap_ms : j;
}
