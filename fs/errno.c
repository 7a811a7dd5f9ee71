/*
 * errno.c - the only place an SB_ERR_* becomes an errno (DESIGN.md 3:
 * "errno is the interface").  Verification failures are EBADMSG, keyring
 * failures ENOKEY, unknown recipients ENXIO, inbox writes EROFS, caps EFBIG.
 * The default logs and answers EIO, and the integration tests look for that
 * log line: no path should reach it.
 */
#include <errno.h>
#include <stdio.h>

#include "../common/sberr.h"
#include "fs.h"

int
fs_errno(int err)
{
	switch ((enum sb_err)err) {
	case SB_OK:                    return 0;
	case SB_ERR_SYSTEM:            return errno != 0 ? errno : EIO;
	case SB_ERR_ALLOC:             return ENOMEM;
	case SB_ERR_INVALID_ARG:       return EINVAL;
	case SB_ERR_NOT_FOUND:         return ENOENT;
	case SB_ERR_EXISTS:            return EEXIST;
	case SB_ERR_READONLY:          return EROFS;
	case SB_ERR_PERMISSION:        return EPERM;
	case SB_ERR_UNKNOWN_RECIPIENT: return ENXIO;
	case SB_ERR_TOO_BIG:           return EFBIG;
	case SB_ERR_LENGTH:            return ENAMETOOLONG;

	/* The message does not verify: never show any of it. */
	case SB_ERR_TRUNCATED:
	case SB_ERR_TRAILING:
	case SB_ERR_FORMAT:
	case SB_ERR_SIGNATURE:
	case SB_ERR_UNWRAP:
	case SB_ERR_TAG:
	case SB_ERR_REPLAY:
	case SB_ERR_ENVELOPE:
	case SB_ERR_HASH:
	case SB_ERR_KEY_TYPE:
	case SB_ERR_KEY_INVALID:
	/* A directory answer without its log evidence: its keys are not
	 * used, as a message that does not verify is not shown. */
	case SB_ERR_LOG_PROOF:
	case SB_ERR_LOG_FORK:          return EBADMSG;

	case SB_ERR_NO_KEYRING:
	case SB_ERR_KEYRING_LOCKED:
	case SB_ERR_KEY_MISSING:
	case SB_ERR_KEY_CORRUPT:       return ENOKEY;

	case SB_ERR_NET:
	case SB_ERR_TLS:
	case SB_ERR_CLOSED:            return ECOMM;
	case SB_ERR_AUTH:              return EACCES;
	case SB_ERR_EXPIRED:           return ETIME;
	case SB_ERR_STALE_DEVICES:     return EAGAIN;
	case SB_ERR_STORAGE:           return EIO;
	case SB_ERR_NO_SPACE:          return ENOSPC;
	case SB_ERR_QUOTA:             return EDQUOT;
	case SB_ERR_RATE_LIMIT:        return EAGAIN;
	case SB_ERR_CONFIG:            return EINVAL;
	/* Sends are held in the background; no file op waits on it. */
	case SB_ERR_HELD:              return EAGAIN;

	case SB_ERR_INTERNAL:
	case SB_ERR_CRYPTO:
	case SB_ERR_PROTOCOL:
	case SB_ERR_ENROLL_CODE:
		break;
	}
	fprintf(stderr, "sealbox: fs: no precise errno for error %d (%s); answering EIO\n",
	    err, sb_strerror(err));
	return EIO;
}
