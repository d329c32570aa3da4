/* The umbrella header works from C and from C++ (headers_cxx.cc): the same
 * atomic operations give the same results in both languages. */
#include "config.h"

#include <check.h>
#include <stdint.h>
#include <stdlib.h>

#include <shmguard.h>

#include "testutil.h"

uint64_t shmg_test_cxx_ops(uint64_t *word); /* headers_cxx.cc */

static uint64_t c_ops(uint64_t *word)
{
	uint64_t orig;
	shmg_atomic_store(word, 5, relaxed);
	shmg_atomic_add(word, 10, acq_rel);        /* 15 */
	shmg_atomic_andnot(word, 1u, release);     /* 14 */
	(void)shmg_atomic_cmpxchgv(word, 14, 40, &orig, acquire);
	return shmg_atomic_load(word, acquire) + orig; /* 40 + 14 */
}

START_TEST(c_and_cxx_agree)
{
	uint64_t a = 0, b = 0;
	ck_assert_uint_eq(c_ops(&a), 54);
	ck_assert_uint_eq(shmg_test_cxx_ops(&b), 54);
	ck_assert_str_eq(shmg_strerror(SHMG_OWNERDEAD),
			 "success; the previous holder died, and what it left may be half done");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("headers");
	TCase *tc = tcase_create("c_cxx");
	tcase_add_test(tc, c_and_cxx_agree);
	suite_add_tcase(s, tc);
	return tu_run_suite(s);
}
