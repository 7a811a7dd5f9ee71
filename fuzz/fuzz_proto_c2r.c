/*
 * fuzz_proto_c2r.c - client -> relay frames, as the relay reads them from a
 * TLS connection (REGISTER, AUTH, LOOKUP, SEND, BLOB_PUT, ...).  See proto_stream.h.
 */
#include "proto_stream.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_proto_stream(data, size, 1);
	return 0;
}
