/*
 * fuzz_config.c - agent/config.h's parser on arbitrary bytes (the home's
 * config file is text anyone with write access to the home could edit).
 *
 * Properties: a failed parse is SB_ERR_CONFIG (or a usage error) with the
 * config zeroed and a message; a successful one passes config_check, and
 * formatting it and parsing that again gives the same config.
 */
#include "fuzz.h"
#include "agent/config.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct agent_config cfg, back;
	struct sb_buf b = SB_BUF_INIT;
	char err[200];
	static const struct agent_config zero;

	if (config_parse(data, size, &cfg, err, sizeof(err)) != SB_OK) {
		FUZZ_ASSERT(memcmp(&cfg, &zero, sizeof(cfg)) == 0);
		FUZZ_ASSERT(err[0] != '\0');
		return 0;
	}
	FUZZ_ASSERT(config_check(&cfg, err, sizeof(err)) == SB_OK);
	FUZZ_ASSERT(config_format(&cfg, &b) == SB_OK);
	FUZZ_ASSERT(config_parse(b.d, b.len, &back, err, sizeof(err)) == SB_OK);
	FUZZ_ASSERT(memcmp(&cfg, &back, sizeof(cfg)) == 0);
	sb_buf_free(&b);
	return 0;
}
