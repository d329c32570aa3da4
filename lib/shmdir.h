/*
 * The milk shm directory, where ImageStreamIO streams and milk's FPS and
 * PINFO files live: shared by the clients, owned by none of them.
 */
#ifndef SHMG_SHMDIR_H
#define SHMG_SHMDIR_H

/* $MILK_SHM_DIR when set, else /milk/shm if a directory, else /tmp:
 * ImageStreamIO's own rule (never $TMPDIR). */
const char *shmg__shm_dir(void);

/* $MILK_PROC_DIR if a directory, else shmg__shm_dir(). */
const char *shmg__proc_dir(void);

#endif /* SHMG_SHMDIR_H */
