/*
 * sberr.h - the one error-code enum of sealbox.
 *
 * Every function that can fail returns 0 (SB_OK) or a negative SB_ERR_* code.
 * Codes name *what* went wrong precisely enough that the CLI can print one
 * line and fs/ can pick the right errno (EBADMSG, ENOKEY, ENXIO, ...) without
 * guessing.  SB_ERR_SYSTEM means "look at errno": the failing call's errno is
 * left untouched on the way up so ENOSPC stays ENOSPC.
 */
#ifndef SB_SBERR_H
#define SB_SBERR_H

enum sb_err {
	SB_OK                   = 0,
	SB_ERR_INTERNAL         = -1,  /* a bug: an invariant did not hold */
	SB_ERR_ALLOC            = -2,  /* out of memory */
	SB_ERR_INVALID_ARG      = -3,  /* caller passed something unusable */
	SB_ERR_SYSTEM           = -4,  /* a system call failed; errno holds why */
	SB_ERR_CRYPTO           = -5,  /* libcrypto failed for a reason not listed */

	/* Parsing untrusted bytes. */
	SB_ERR_TRUNCATED        = -10, /* input ended before the structure did */
	SB_ERR_TRAILING         = -11, /* bytes left after the structure */
	SB_ERR_LENGTH           = -12, /* a length field is out of its bounds */
	SB_ERR_FORMAT           = -13, /* wrong version, tag or encoding */

	/* Verifying and decrypting. */
	SB_ERR_SIGNATURE        = -20, /* signature does not verify */
	SB_ERR_UNWRAP           = -21, /* RSA-OAEP / ECIES unwrap of the key failed */
	SB_ERR_TAG              = -22, /* integrity tag mismatch after decryption */
	SB_ERR_KEY_TYPE         = -23, /* key of the wrong algorithm, curve or size */
	SB_ERR_KEY_INVALID      = -24, /* key bytes do not decode to a key */
	SB_ERR_REPLAY           = -25, /* message id or key block seen before */
	SB_ERR_ENVELOPE         = -26, /* inner message disagrees with its envelope */
	SB_ERR_HASH             = -27, /* attachment hash mismatch */

	/* Keyring (Secret Service). */
	SB_ERR_NO_KEYRING       = -30, /* no Secret Service reachable on D-Bus */
	SB_ERR_KEYRING_LOCKED   = -31, /* collection locked, cannot prompt */
	SB_ERR_KEY_MISSING      = -32, /* no such item in the keyring */
	SB_ERR_KEY_CORRUPT      = -33, /* item exists but does not decode */

	/* Relay, directory, network. */
	SB_ERR_NET              = -40, /* connect/read/write failed */
	SB_ERR_TLS              = -41, /* handshake, version or pinning failed */
	SB_ERR_PROTOCOL         = -42, /* peer broke the protocol */
	SB_ERR_AUTH             = -43, /* authentication refused */
	SB_ERR_NOT_FOUND        = -44, /* no such address, device or blob */
	SB_ERR_EXISTS           = -45, /* already exists / already initialised */
	SB_ERR_STALE_DEVICES    = -46, /* device set differs from the directory */
	SB_ERR_TOO_BIG          = -47, /* over a configured cap */
	SB_ERR_EXPIRED          = -48, /* past retention */
	SB_ERR_PERMISSION       = -49, /* not allowed for this session/device */
	SB_ERR_ENROLL_CODE      = -50, /* enrollment code wrong or already used */
	SB_ERR_STORAGE          = -51, /* the durable store failed */
	SB_ERR_CLOSED           = -52, /* connection closed by peer */
	SB_ERR_NO_SPACE         = -53, /* the relay's disk is full (transient) */
	SB_ERR_QUOTA            = -54, /* a relay storage quota is used up (transient) */
	SB_ERR_RATE_LIMIT       = -55, /* too many requests of a kind (transient) */

	/* Mailbox. */
	SB_ERR_UNKNOWN_RECIPIENT = -60, /* address or contact not in the directory */
	SB_ERR_READONLY          = -61, /* write into inbox/ */
	SB_ERR_CONFIG            = -62, /* configuration missing or unreadable */
	SB_ERR_HELD              = -63, /* a verified contact's devices changed: not sent */

	/* Transparency log (docs/PROTOCOL.md section 14). */
	SB_ERR_LOG_PROOF         = -64, /* a directory answer fails its log proofs: keys not used */
	SB_ERR_LOG_FORK          = -65, /* two signed tree heads no honest log can both have signed */
};

/* Returns a static, one-line, human-readable description of err. */
const char *sb_strerror(int err);

#endif
