/*
 * fuzz_proto_r2c.c - relay -> client frames, as the agent's client library
 * reads them (HELLO, OK, ERROR, LOOKUP_RESULT, STALE, PUSH, ...).  See
 * proto_stream.h.
 */
#include "proto_stream.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_proto_stream(data, size, 0);
	return 0;
}
