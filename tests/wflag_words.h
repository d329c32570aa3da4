/*
 * wflag_words.h: where the write-flag tests, stress and benchmark place a
 * guard's words: ImageStreamIO's offsets (lib/isio_layout.h), with the
 * circular-buffer records (sequence words) right after the metadata.
 */
#ifndef SHMG_WFLAG_WORDS_H
#define SHMG_WFLAG_WORDS_H

#include "../lib/isio_layout.h"

#define OFF_OWNER ISIO_OWNERPID
#define OFF_COUNTER ISIO_CNT0
#define OFF_MARK ISIO_WRITE
#define OFF_WAITERS ISIO_WAITERS
#define OFF_INDEX ISIO_CBINDEX
#define OFF_SEQ ISIO_MD_SIZE
#define SEQ_STRIDE ISIO_CBMD_SIZE

#endif /* SHMG_WFLAG_WORDS_H */
