/*
 * sberr.c - descriptions of SB_ERR_* codes.  One line each, suitable as the
 * tail of a CLI error ("sealbox: open: signature does not verify").
 */
#include <errno.h>
#include <string.h>

#include "sberr.h"

const char *
sb_strerror(int err)
{
	switch ((enum sb_err)err) {
	case SB_OK:                   return "success";
	case SB_ERR_INTERNAL:         return "internal error";
	case SB_ERR_ALLOC:            return "out of memory";
	case SB_ERR_INVALID_ARG:      return "invalid argument";
	case SB_ERR_SYSTEM:           return strerror(errno);
	case SB_ERR_CRYPTO:           return "cryptographic library failure";
	case SB_ERR_TRUNCATED:        return "input is truncated";
	case SB_ERR_TRAILING:         return "unexpected trailing bytes";
	case SB_ERR_LENGTH:           return "length field out of bounds";
	case SB_ERR_FORMAT:           return "bad format or version";
	case SB_ERR_SIGNATURE:        return "signature does not verify";
	case SB_ERR_UNWRAP:           return "message key does not decrypt (wrong recipient key or corrupt key block)";
	case SB_ERR_TAG:              return "integrity tag mismatch";
	case SB_ERR_KEY_TYPE:         return "key of the wrong type or size";
	case SB_ERR_KEY_INVALID:      return "key does not decode";
	case SB_ERR_REPLAY:           return "replayed message";
	case SB_ERR_ENVELOPE:         return "inner message does not match its envelope";
	case SB_ERR_HASH:             return "attachment hash mismatch";
	case SB_ERR_NO_KEYRING:       return "no usable Secret Service on the D-Bus session bus (none running, or no default keyring: log in to your desktop keyring, or run under scripts/with-keyring)";
	case SB_ERR_KEYRING_LOCKED:   return "keyring is locked (unlock it in your desktop session, or run under scripts/with-keyring)";
	case SB_ERR_KEY_MISSING:      return "device key not found in the keyring (run 'sealbox init' for this home)";
	case SB_ERR_KEY_CORRUPT:      return "device key in the keyring is corrupt (delete the item and re-run 'sealbox init')";
	case SB_ERR_NET:              return "network error talking to the relay";
	case SB_ERR_TLS:              return "TLS failure (version, handshake or certificate fingerprint)";
	case SB_ERR_PROTOCOL:         return "relay protocol violation";
	case SB_ERR_AUTH:             return "authentication refused";
	case SB_ERR_NOT_FOUND:        return "not found";
	case SB_ERR_EXISTS:           return "already exists";
	case SB_ERR_STALE_DEVICES:    return "recipient device set is stale";
	case SB_ERR_TOO_BIG:          return "too big";
	case SB_ERR_EXPIRED:          return "expired";
	case SB_ERR_PERMISSION:       return "permission denied";
	case SB_ERR_ENROLL_CODE:      return "enrollment code is wrong or already used";
	case SB_ERR_STORAGE:          return "storage failure";
	case SB_ERR_CLOSED:           return "connection closed";
	case SB_ERR_NO_SPACE:         return "out of disk space";
	/* Read in a sent file's status as "queued: <this>, retrying": the
	 * quota frees up as recipients acknowledge or items expire. */
	case SB_ERR_QUOTA:            return "relay storage quota exceeded";
	case SB_ERR_RATE_LIMIT:       return "relay rate limit reached";
	case SB_ERR_UNKNOWN_RECIPIENT:return "unknown recipient";
	case SB_ERR_READONLY:         return "read-only";
	case SB_ERR_CONFIG:           return "configuration missing or invalid";
	case SB_ERR_HELD:             return "held: a verified contact's devices changed; compare codes again";
	case SB_ERR_LOG_PROOF:        return "directory answer does not match the relay's transparency log";
	case SB_ERR_LOG_FORK:         return "the relay's transparency log is forked (two tree heads that cannot both be honest)";
	}
	return "unknown error";
}
