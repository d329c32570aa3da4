/*
 * fuzz_isio: an ImageStreamIO stream file with arbitrary contents, through
 * every call that reads what the file says: shmg_isio_open's validation,
 * then (mapped read-only, so any write would fault) the layout, inspect,
 * every semaphore slot, a dry-run recover, and the frame reads and waits
 * of a reader that may only read (with a deadline already passed: they
 * must not sleep); then the same reads and waits mapped read-write, and a
 * reader that claims a semaphore slot and pins a copy in place (the copy
 * must lie inside the file).
 */
#include <shmguard.h>

#include "fuzz.h"

#define SLOTS_MAX 1024 /* slots looked at (nsem is 16 bits) */

static void look(struct shmg_isio *s)
{
	struct shmg_isio_layout l = {.size = sizeof(l)};
	struct shmg_isio_info info = {.size = sizeof(info)};
	size_t reported = 0;
	struct shmg_recover_opts ro = {
		.size = sizeof(ro), .flags = SHMG_RECOVER_DRY_RUN,
		.report = fuzz_report, .report_arg = &reported,
	};
	const struct shmg_region *r = shmg_isio_region(s);

	FUZZ_ASSERT(shmg_isio_get_layout(s, &l) == 0);
	FUZZ_ASSERT(l.file_size <= shmg_region_size(r));
	FUZZ_ASSERT(shmg_isio_inspect(s, &info) == 0);
	FUZZ_ASSERT(memchr(info.name, 0, sizeof(info.name)) != NULL);
	for (unsigned k = 0; k <= l.nsem && k < SLOTS_MAX; k++) {
		struct shmg_isio_slot_info si = {.size = sizeof(si)};
		int err = shmg_isio_inspect_slot(s, k, &si);
		FUZZ_ASSERT(k < l.nsem ? err == 0 : err == -ERANGE);
	}
	(void)shmg_isio_counter(s);
	int got = shmg_isio_recover(s, &ro);
	FUZZ_ASSERT(got != -EROFS);
}

static void read_frames(struct shmg_isio *s)
{
	struct shmg_isio_layout l = {.size = sizeof(l)};
	struct shmg_wflag_snap snap = {.size = sizeof(snap)};
	FUZZ_ASSERT(shmg_isio_get_layout(s, &l) == 0);
	if (!l.has_data) {
		FUZZ_ASSERT(shmg_isio_data(s) == NULL);
		return;
	}
	size_t len = l.data_size;
	void *buf = malloc(len ? len : 1);
	FUZZ_ASSERT(buf != NULL);
	(void)shmg_isio_read(s, buf, len, &snap, fuzz_past());
	if (l.naxis == 3 && l.dims[2]) {
		size_t slice = len / l.dims[2];
		(void)shmg_isio_read_slice(s, 0, buf, slice, &snap, fuzz_past());
		(void)shmg_isio_read_slice(s, l.dims[2] - 1, buf, slice, &snap, fuzz_past());
		FUZZ_ASSERT(shmg_isio_read_slice(s, l.dims[2], buf, slice, &snap,
						 fuzz_past()) < 0);
	}
	uint64_t now;
	(void)shmg_isio_wait(s, shmg_isio_counter(s), &now, fuzz_past());
	free(buf);
}

/* Mapped read-write: claim a semaphore slot, pin, look at the pinned
 * copy's last byte, unpin, give the slot back. */
static void pin_frame(struct shmg_isio *s)
{
	struct shmg_wflag_pinned pin = {.size = sizeof(pin)};
	const struct shmg_region *r = shmg_isio_region(s);
	const unsigned char *base = shmg_region_base(r);
	if (shmg_isio_sem_claim(s, NULL) < 0)
		return;
	if (shmg_isio_pin(s, &pin) == 0) {
		const unsigned char *p = pin.data;
		static volatile unsigned char last;
		FUZZ_ASSERT(p >= base && shmg_region_contains(r, (size_t)(p - base), pin.len));
		if (pin.len)
			last = p[pin.len - 1];
		FUZZ_ASSERT(shmg_isio_unpin(s) == 0);
	}
	(void)shmg_isio_sem_release(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *path = fuzz_file(data, size);
	struct shmg_isio *s;

	if (shmg_isio_open(&s, path, SHMG_REGION_RDONLY) != 0)
		return 0;
	look(s);
	read_frames(s);
	shmg_isio_close(s);
	/* The same file read-write: the validation must agree. */
	FUZZ_ASSERT(shmg_isio_open(&s, path, 0) == 0);
	read_frames(s);
	pin_frame(s);
	shmg_isio_close(s);
	return 0;
}
