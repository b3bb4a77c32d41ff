// SPDX-License-Identifier: GPL-2.0-only
/*
 * The demo guest: 16-bit real-mode code (gcc -m16), loaded at 0x1000 with
 * CS=DS=SS=0.  It draws the Mandelbrot set in fixed point on the serial
 * port, then reports where the picture is in its memory and a checksum of
 * it, and halts.
 */
#define COM1		0x3f8
#define REPORT		0x3f9	/* the VMM reads 32-bit results here */

static inline void outb(unsigned short port, unsigned char v)
{
	asm volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline void outl(unsigned short port, unsigned int v)
{
	asm volatile("outl %0, %1" : : "a"(v), "Nd"(port));
}

static void puts(const char *s)
{
	while (*s)
		outb(COM1, *s++);
}

/* The picture is kept in guest memory, then checksummed. */
static char picture[24][64];

static void mandelbrot(void)
{
	const char *shades = " .:-=+*#%@";
	int row, col;

	for (row = 0; row < 24; row++) {
		for (col = 0; col < 64; col++) {
			/* 16.16 fixed point: x in [-2.1, 0.9], y in [-1.2, 1.2] */
			int cx = -137626 + col * 3072, cy = -78643 + row * 6554;
			int x = 0, y = 0, i;

			for (i = 0; i < 30; i++) {
				int xx = (int)(((long long)x * x) >> 16);
				int yy = (int)(((long long)y * y) >> 16);

				if (xx + yy > (4 << 16))
					break;
				y = (int)(((long long)x * y) >> 15) + cy;
				x = xx - yy + cx;
			}
			picture[row][col] = shades[i >= 30 ? 9 : i % 9];
		}
	}
}

static unsigned int checksum(void)
{
	unsigned int sum = 0;
	int row, col;

	for (row = 0; row < 24; row++)
		for (col = 0; col < 64; col++)
			sum = sum * 31 + (unsigned char)picture[row][col];
	return sum;
}

__attribute__((section(".text.start"), noreturn)) void _start(void)
{
	int row, col;

	puts("guest: hello from real mode\r\n");
	mandelbrot();
	for (row = 0; row < 24; row++) {
		for (col = 0; col < 64; col++)
			outb(COM1, picture[row][col]);
		puts("\r\n");
	}
	puts("guest: done, reporting checksum and halting\r\n");
	outl(REPORT, (unsigned int)picture);
	outl(REPORT, checksum());
	for (;;)
		asm volatile("hlt");
}
