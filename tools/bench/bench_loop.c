/* placeholder */
int bench_loop_placeholder;
