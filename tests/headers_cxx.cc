// The umbrella header compiled as C++: the atomic macros expand and work.
#include <shmguard.h>

#include <cstdint>

extern "C" uint64_t shmg_test_cxx_ops(uint64_t *word);

extern "C" uint64_t shmg_test_cxx_ops(uint64_t *word)
{
	uint64_t orig;
	shmg_atomic_store(word, 5, relaxed);
	shmg_atomic_add(word, 10, acq_rel);
	shmg_atomic_andnot(word, 1u, release);
	(void)shmg_atomic_cmpxchgv(word, 14, 40, &orig, acquire);
	return shmg_atomic_load(word, acquire) + orig;
}
