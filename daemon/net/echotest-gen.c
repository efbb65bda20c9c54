/* The echo test's byte generator: tests/interop/peer.mjs's chunkOf(),
 * reproduced bit for bit.
 *
 *   x = (s * 2654435761 + i * 40503 + 1) >>> 0
 *   for each byte: x = (x * 1103515245 + 12345) >>> 0; byte = x >>> 24
 *
 * JavaScript computes x * 1103515245 + 12345 in IEEE doubles: the product
 * (up to 2^62) is rounded to 53 significant bits, then the sum is rounded
 * again, and only then reduced mod 2^32. That is not the integer LCG, so we
 * round exactly as a double would (to nearest, ties to even) in integer
 * arithmetic, which no compiler flag or FPU mode can change. */
#include "echotest.h"

/* v rounded to 53 significant bits, ties to even (what converting v to a
 * double and back gives). */
static uint64_t round53(uint64_t v)
{
	if (v < ((uint64_t)1 << 53))
		return v;
	int shift = 64 - __builtin_clzll(v) - 53;
	uint64_t unit = (uint64_t)1 << shift;
	uint64_t low = v & (unit - 1);
	uint64_t half = unit >> 1;
	v -= low;
	if (low > half || (low == half && (v & unit)))
		v += unit; /* a carry to the next power of two is still exact */
	return v;
}

static uint32_t step(uint32_t x)
{
	uint64_t product = round53((uint64_t)x * 1103515245u);
	return (uint32_t)round53(product + 12345u);
}

static uint32_t seed(uint32_t s, uint64_t i)
{
	/* Exact in doubles for every s and i a test can reach (< 2^53). */
	return (uint32_t)((uint64_t)s * 2654435761u + i * 40503u + 1u);
}

void echotest_gen_init(struct echotest_gen *g, uint32_t s)
{
	*g = (struct echotest_gen){.stream = s, .x = seed(s, 0)};
}

void echotest_gen_fill(struct echotest_gen *g, uint8_t *out, size_t n)
{
	for (size_t k = 0; k < n; k++) {
		if (g->in_chunk == ECHOTEST_CHUNK) {
			g->chunk++;
			g->in_chunk = 0;
			g->x = seed(g->stream, g->chunk);
		}
		g->x = step(g->x);
		out[k] = (uint8_t)(g->x >> 24);
		g->in_chunk++;
	}
}
