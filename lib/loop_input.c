/*
 * The milk processing loop: is its input stream still the file under its
 * name, and still whole? Looked at only after a wait's slice timed out
 * (one fstat), never on the path of a frame that arrives. See doc/loop.md,
 * "An input replaced or truncated".
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <sys/stat.h>

#include <shmguard/error.h>
#include <shmguard/isio.h>

#include "detail.h"
#include "loop_internal.h"
#include "proc_internal.h"
#include "region_internal.h"

int shmg__loop_input_gone(const struct shmg_loop *l)
{
	if (!l->p.input || l->p.mode == SHMG_LOOP_DELAY || l->p.mode == SHMG_LOOP_IMMEDIATE)
		return 0;
	const struct shmg_region *r = shmg_isio_region(l->p.input);
	if (shmg__truncated(r))
		return shmg__fail(SHMG_ETRUNCATED, "the input stream's file was truncated under "
				  "the loop: its frames are gone (reopen the stream once its "
				  "writer has recreated it)");
	/* A file with no name left was unlinked: ImageStreamIO's create
	 * unlinks and creates anew, shmg_isio_create(SHMG_REGION_REPLACE)
	 * renames over it. Nobody writes the orphan any more. */
	struct stat st;
	if (r->fd < 0 || fstat(r->fd, &st) != 0 || st.st_nlink > 0)
		return 0;
	char path[PATH_MAX];
	struct stat now;
	shmg__proc_fd_name(r->fd, path, sizeof(path));
	if (path[0] && stat(path, &now) == 0)
		return shmg__fail(-ESTALE, "the input stream %s was recreated under its name "
				  "(inode %llu, the loop's is %llu): reopen it and make a new loop",
				  path, (unsigned long long)now.st_ino,
				  (unsigned long long)st.st_ino);
	return shmg__fail(-ESTALE, "the input stream's file %s was removed (inode %llu): "
			  "reopen it once it is recreated and make a new loop",
			  path[0] ? path : "(name unknown)", (unsigned long long)st.st_ino);
}
