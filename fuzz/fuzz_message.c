/*
 * fuzz_message.c - agent/message.h's parser on arbitrary bytes (the inner
 * message is what a peer's sealed payload decrypts to: attacker-chosen).
 *
 * Properties: a parse either fails with the message zeroed or yields a
 * message whose encoding is exactly the input less the extensions of
 * unknown types it skipped (the codec is canonical otherwise), whose
 * encoding parses back to the same size, and whose every recipient is
 * found by message_has_recipient.
 */
#include "fuzz.h"
#include "agent/message.h"

static struct message m;

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sb_buf b = SB_BUF_INIT;
	size_t i;

	if (message_parse(data, size, &m) != SB_OK) {
		FUZZ_ASSERT(m.n_recipients == 0 && m.sender.p == NULL);
		return 0;
	}
	FUZZ_ASSERT(m.skipped_len <= size);
	FUZZ_ASSERT(message_encoded_size(&m) == size - m.skipped_len);
	FUZZ_ASSERT(message_encode(&m, &b) == SB_OK);
	FUZZ_ASSERT(b.len == size - m.skipped_len);
	if (m.skipped_len == 0)
		FUZZ_ASSERT(memcmp(b.d, data, size) == 0);
	for (i = 0; i < m.n_recipients; i++)
		FUZZ_ASSERT(message_has_recipient(&m, m.recipients[i].p, m.recipients[i].len));
	if (m.kind == MESSAGE_INLINE)
		FUZZ_ASSERT(message_inline_overhead(&m) + m.content_len == size - m.skipped_len);
	sb_buf_free(&b);
	return 0;
}
