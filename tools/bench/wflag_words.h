/*
 * wflag_words.h: where the write-flag benchmark (and the tests that share
 * it) place a guard's words: ImageStreamIO's offsets (doc/imagestreamio.md:
 * ownerPID, cnt0, write and the padding byte after it, CBindex), with the
 * circular-buffer records (sequence words, 48 bytes each) right after the
 * 384-byte metadata.
 */
#ifndef SHMG_WFLAG_WORDS_H
#define SHMG_WFLAG_WORDS_H

#define OFF_OWNER 220
#define OFF_COUNTER 264
#define OFF_MARK 288
#define OFF_WAITERS 289
#define OFF_INDEX 296
#define OFF_SEQ 384
#define SEQ_STRIDE 48

#endif /* SHMG_WFLAG_WORDS_H */
