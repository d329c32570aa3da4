/* Drives the README's seqlock example (tests/readme-examples.sh). */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

struct frame_area { uint64_t seq; unsigned char data[4096]; };
void publish(struct frame_area *a, const void *frame);
bool snapshot(struct frame_area *a, void *out);

int main(void)
{
	static struct frame_area area;
	unsigned char frame[4096], copy[4096];

	for (int f = 1; f <= 3; f++) {
		memset(frame, f, sizeof(frame));
		publish(&area, frame);
		if (!snapshot(&area, copy) || memcmp(frame, copy, sizeof(copy)) != 0) {
			fprintf(stderr, "README example: frame %d not read back\n", f);
			return 1;
		}
	}
	if (area.seq != 6) {
		fprintf(stderr, "README example: sequence %llu, expected 6\n",
			(unsigned long long)area.seq);
		return 1;
	}
	puts("README example: 3 frames published and read back");
	return 0;
}
