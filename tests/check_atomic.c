/* Unit suite for shmguard/atomic.h. */
#include "config.h"

#include <check.h>
#include <stdint.h>
#include <stdlib.h>

#include <shmguard/atomic.h>

START_TEST(orig_and_new_conventions)
{
	uint32_t w = 0;
	ck_assert_uint_eq(shmg_atomic_inc_orig(&w, relaxed), 0);
	ck_assert_uint_eq(shmg_atomic_inc(&w, relaxed), 2);
	ck_assert_uint_eq(shmg_atomic_or_orig(&w, 0x10, acq_rel), 2);
	ck_assert_uint_eq(shmg_atomic_andnot(&w, 0x2, release), 0x10);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("atomic");
	TCase *tc = tcase_create("conventions");
	tcase_add_test(tc, orig_and_new_conventions);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
