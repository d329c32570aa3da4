/*
 * fuzz_region: a generic region and the guards a user places in it, all
 * from the input. The input is a header (the write flag's placement with
 * its pin slots, a lock word's offset and width, a span) then the file's
 * contents. Checked: shmg_region_at/contains agree with the file's size; a
 * placement is either refused or every guard call on it stays inside the
 * file (ASan says), a pinned copy too; mapped read-only, inspect and a
 * dry-run recover never write; a lock word of any value decodes to a known
 * state; a writer facing pin and owner words of any value never waits
 * when told to drop.
 */
#include <shmguard.h>

#include "fuzz.h"

#define HEADER 112

struct header {
	struct shmg_wflag_place place;
	size_t xlock_offset, span_offset, span_len;
	unsigned xlock_width;
};

static void read_header(struct header *h, const uint8_t *data, size_t size)
{
	struct fuzz_reader in = {data, size < HEADER ? size : HEADER};
	struct shmg_wflag_place *p = &h->place;
	memset(h, 0, sizeof(*h));
	p->size = sizeof(*p);
	p->parts = (uint32_t)fuzz_take(&in, 1);
	/* Offsets: small ones mostly (inside the file), any with the high
	 * byte (overflows). */
	p->mark = (size_t)fuzz_take(&in, 8);
	p->counter = (size_t)fuzz_take(&in, 8);
	p->waiters = (size_t)fuzz_take(&in, 8);
	p->owner = (size_t)fuzz_take(&in, 8);
	p->copies = (uint32_t)fuzz_take(&in, 4);
	p->index = (size_t)fuzz_take(&in, 8);
	p->seq = (size_t)fuzz_take(&in, 8);
	p->seq_stride = (size_t)fuzz_take(&in, 8);
	p->data = (size_t)fuzz_take(&in, 8);
	p->data_len = (size_t)fuzz_take(&in, 8);
	h->xlock_offset = (size_t)fuzz_take(&in, 4);
	h->xlock_width = (unsigned)fuzz_take(&in, 1);
	h->span_offset = (size_t)fuzz_take(&in, 8);
	h->span_len = (size_t)fuzz_take(&in, 2);
	p->npins = (uint32_t)fuzz_take(&in, 1);
	p->pins = (size_t)fuzz_take(&in, 4);
	p->pin_owners = (size_t)fuzz_take(&in, 4);
	p->pin_stride = (size_t)fuzz_take(&in, 1);
}

static void spans(const struct shmg_region *r, const struct header *h)
{
	size_t size = shmg_region_size(r);
	void *at;
	bool in = shmg_region_contains(r, h->span_offset, h->span_len);
	FUZZ_ASSERT(in == (h->span_offset <= size && h->span_len <= size - h->span_offset));
	int err = shmg_region_at(r, h->span_offset, h->span_len, &at);
	if (err == 0)
		FUZZ_ASSERT(in && (char *)at == (char *)shmg_region_base(r) + h->span_offset);
}

static void locks(const struct shmg_region *r, const struct header *h)
{
	struct shmg_xlock l;
	struct shmg_xlock_info xi = {.size = sizeof(xi)};
	size_t reported = 0;
	struct shmg_recover_opts ro = {
		.size = sizeof(ro), .flags = SHMG_RECOVER_DRY_RUN,
		.report = fuzz_report, .report_arg = &reported,
	};
	if (shmg_xlock_init(&l, r, h->xlock_offset, h->xlock_width) != 0)
		return;
	FUZZ_ASSERT(h->xlock_offset < shmg_region_size(r));
	FUZZ_ASSERT(shmg_xlock_inspect(&l, &xi) == 0);
	FUZZ_ASSERT(xi.state <= SHMG_XLOCK_GARBAGE);
	FUZZ_ASSERT(xi.width == 4 || xi.width == 8);
	(void)shmg_xlock_recover(&l, &ro);
}

/* Read-only: nothing here may write. */
static void monitor(const struct shmg_region *r, const struct header *h)
{
	struct shmg_wflag *g;
	struct shmg_wflag_info wi = {.size = sizeof(wi)};
	size_t reported = 0;
	struct shmg_recover_opts ro = {
		.size = sizeof(ro), .flags = SHMG_RECOVER_DRY_RUN,
		.report = fuzz_report, .report_arg = &reported,
	};
	int32_t pid;
	if (shmg_wflag_new(&g, r, &h->place) != 0)
		return;
	FUZZ_ASSERT(shmg_wflag_inspect(g, &wi) == 0);
	FUZZ_ASSERT(wi.mark_offset == h->place.mark);
	(void)shmg_wflag_counter(g);
	(void)shmg_wflag_writer_alive(g, &pid);
	(void)shmg_wflag_recover(g, &ro);
	shmg_wflag_free(g);
}

/* Is [p, p + len) inside the region? */
static bool inside(const struct shmg_region *r, const void *p, size_t len)
{
	const unsigned char *base = shmg_region_base(r);
	return (const unsigned char *)p >= base &&
	       shmg_region_contains(r, (size_t)((const unsigned char *)p - base), len);
}

/* A pinning reader: the copy it gets lies inside the file. */
static void pinner(const struct shmg_region *r, struct shmg_wflag *g)
{
	unsigned slot;
	struct shmg_wflag_pinned pin = {.size = sizeof(pin)};
	if (shmg_wflag_pin_claim(g, &slot) != 0)
		return;
	if (shmg_wflag_pin(g, slot, &pin) == 0) {
		FUZZ_ASSERT(inside(r, pin.data, pin.len));
		static volatile unsigned char last; /* the copy's last byte is readable */
		if (pin.len)
			last = ((const unsigned char *)pin.data)[pin.len - 1];
		FUZZ_ASSERT(shmg_wflag_unpin(g, slot) == 0);
	}
	(void)shmg_wflag_pin_release(g, slot);
}

/* Read-write, as a reader that may wait maps it: reads never wait. */
static void reader(const struct shmg_region *r, const struct header *h)
{
	struct shmg_wflag *g;
	struct shmg_wflag_snap snap = {.size = sizeof(snap)};
	if (shmg_wflag_new(&g, r, &h->place) != 0)
		return;
	size_t len = h->span_len;
	unsigned char *dst = malloc(len ? len : 1);
	FUZZ_ASSERT(dst != NULL);
	size_t src_off = shmg_region_contains(r, h->span_offset, 0) ? h->span_offset : 0;
	const unsigned char *src = (const unsigned char *)shmg_region_base(r) + src_off;
	int err = shmg_wflag_read(g, dst, src, len, &snap, fuzz_past());
	if (err == 0 && h->place.copies == 0)
		FUZZ_ASSERT(shmg_region_contains(r, src_off, len));
	(void)shmg_wflag_wait_idle(g, fuzz_past());
	(void)shmg_wflag_wait_update(g, shmg_wflag_counter(g), NULL, fuzz_past());
	free(dst);
	pinner(r, g);
	shmg_wflag_free(g);
}

/* A writer that drops a frame rather than wait for pinned copies: the
 * copy it is given lies inside the file. */
static void writer(const struct shmg_region *r, const struct header *h)
{
	struct shmg_wflag *g;
	void *copy;
	if (shmg_wflag_new(&g, r, &h->place) != 0)
		return;
	if (shmg_wflag_claim(g) >= 0) {
		int err = shmg_wflag_begin_timed(g, SHMG_WFLAG_FULL_DROP, NULL, &copy, NULL);
		if (err == 0) {
			if (copy) {
				FUZZ_ASSERT(inside(r, copy, h->place.data_len));
				memset(copy, 0x5a, h->place.data_len);
			}
			shmg_wflag_publish(g);
		}
		(void)shmg_wflag_release(g);
	}
	shmg_wflag_free(g);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct header h;
	struct shmg_region *r;
	read_header(&h, data, size);
	size_t skip = size < HEADER ? size : HEADER;
	const char *path = fuzz_file(data + skip, size - skip);

	if (shmg_region_open(&r, path, SHMG_REGION_RDONLY) != 0)
		return 0;
	FUZZ_ASSERT(shmg_region_size(r) == size - skip);
	FUZZ_ASSERT(!shmg_region_writable(r));
	spans(r, &h);
	locks(r, &h);
	monitor(r, &h);
	shmg_region_close(r);

	FUZZ_ASSERT(shmg_region_open(&r, path, 0) == 0);
	reader(r, &h);
	writer(r, &h);
	shmg_region_close(r);
	return 0;
}
