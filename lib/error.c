/* Names of shmguard return codes. */
#include "config.h"

#include <string.h>

#include <shmguard/error.h>

static const char *const shmg_messages[] = {
	[SHMG_EOWNERDEAD - SHMG_E_FIRST] = "previous lock owner died; lock acquired, data may be inconsistent",
	[SHMG_ENOTRECOVERABLE - SHMG_E_FIRST] = "lock is not recoverable: an owner died and the data was never marked consistent",
	[SHMG_ELAYOUT - SHMG_E_FIRST] = "segment does not match the expected layout",
	[SHMG_EGARBAGE - SHMG_E_FIRST] = "guard word holds an invalid value",
	[SHMG_EWRITERDEAD - SHMG_E_FIRST] = "writer died while writing",
	[SHMG_ETOOFAST - SHMG_E_FIRST] = "writer too fast: no consistent copy within the retry bound",
	[SHMG_ETORN - SHMG_E_FIRST] = "data was torn by a concurrent write",
	[SHMG_ENOTOWNER - SHMG_E_FIRST] = "caller does not own the lock",
	[SHMG_EDEADLK - SHMG_E_FIRST] = "caller already owns the lock",
	[SHMG_ECOUNTER - SHMG_E_FIRST] = "frame counter moved backwards or wrapped",
};

const char *shmg_strerror(int err)
{
	if (err == 0)
		return "success";
	if (err >= SHMG_E_FIRST && err <= SHMG_E_LAST)
		return shmg_messages[err - SHMG_E_FIRST];
	if (err < 0 && err > -4096) {
		/* strerrordesc_np returns static text: thread-safe, unlike strerror. */
		const char *desc = strerrordesc_np(-err);
		if (desc)
			return desc;
	}
	return "unknown error";
}
