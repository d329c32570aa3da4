/*
 * fuzz_isio_layout: shmg_isio_layout_of on arbitrary parameters (the
 * arithmetic every stream file's validation redoes): either refused, or a
 * layout whose parts lie in order inside the file size.
 */
#include <shmguard.h>

#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_reader in = {data, size};
	char name[SHMG_ISIO_NAME_MAX + 8];
	struct shmg_isio_params p = {.size = sizeof(p)};
	struct shmg_isio_layout l = {.size = sizeof(l)};

	p.naxis = (uint8_t)fuzz_take(&in, 1);
	p.datatype = (uint8_t)fuzz_take(&in, 1);
	p.nsem = (uint16_t)fuzz_take(&in, 2);
	for (int i = 0; i < 3; i++)
		p.dims[i] = (uint32_t)fuzz_take(&in, 4);
	p.nkw = (uint16_t)fuzz_take(&in, 2);
	p.cbsize = (uint32_t)fuzz_take(&in, 4);
	p.imagetype = fuzz_take(&in, 8);
	size_t n = in.n < sizeof(name) - 1 ? in.n : sizeof(name) - 1;
	memcpy(name, in.p, n);
	name[n] = 0;
	p.name = name;

	if (shmg_isio_layout_of(&l, &p) != 0)
		return 0;
	FUZZ_ASSERT(l.naxis == p.naxis && l.datatype == p.datatype);
	FUZZ_ASSERT(l.elem_size > 0 && l.data_size / l.elem_size == l.nelement);
	FUZZ_ASSERT(l.off_data >= 384 && l.off_data <= l.off_kw);
	FUZZ_ASSERT(!l.has_data || l.off_data + l.data_size <= l.off_kw);
	FUZZ_ASSERT(l.off_kw <= l.off_sem && l.off_sem <= l.off_semlog);
	FUZZ_ASSERT(l.off_proctrace <= l.file_size && l.off_cbdata <= l.file_size);
	FUZZ_ASSERT(l.off_cbmd <= l.off_cbdata || l.cbsize == 0);
	return 0;
}
