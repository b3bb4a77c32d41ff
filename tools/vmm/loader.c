// SPDX-License-Identifier: GPL-2.0-only
/*
 * loader.c - the x86 Linux boot protocol, 64-bit entry
 * (Documentation/arch/x86/boot.rst).
 *
 * The image is read once, front to back, with no seek, so that it may come
 * from a pipe: first the boot sector, whose setup header says how many
 * sectors of real-mode setup code follow (setup_sects); then that setup
 * code, which holds the rest of the header (the protocol version, the
 * 64-bit capability, init_size, cmdline_size, ...); then the protected-mode
 * kernel, streamed straight to its load address at 1 MiB.  The initramfs is
 * streamed too: a regular file goes straight to the top of low memory, any
 * other file to the first free byte after the kernel, and is moved up once
 * its size is known.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <asm/bootparam.h>

#include "vmm.h"

#define SECTOR			512
#define HDR_OFFSET		0x1f1
#define HDR_MAGIC		0x53726448	/* "HdrS" */
#define BOOT_FLAG		0xaa55
#define HDR_AREA_END		0x290		/* its room in boot_params */
#define MIN_PROTOCOL		0x020c		/* 2.12: xloadflags */
#define E820_RAM		1
#define E820_RESERVED		2

#define ALIGN_UP(x, a)		(((x) + (a) - 1) & ~((uint64_t)(a) - 1))
#define ALIGN_DOWN(x, a)	((x) & ~((uint64_t)(a) - 1))
#define MiB			(1024ULL * 1024)

int vmm_mem_alloc(struct vmm_mem *mem, uint64_t size)
{
	void *p;

	p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED) {
		vmm_err("cannot map %llu MiB of guest memory: %s",
			(unsigned long long)(size / MiB), strerror(errno));
		return -1;
	}
	mem->host = p;
	mem->size = size;
	mem->low_size = size < VMM_HOLE_START ? size : VMM_HOLE_START;
	return 0;
}

/* Host address of [gpa, gpa + len) when it is all RAM, else NULL. */
void *vmm_gpa(const struct vmm_mem *mem, uint64_t gpa, uint64_t len)
{
	uint64_t high = mem->size - mem->low_size;

	if (gpa + len < gpa)
		return NULL;
	if (gpa + len <= mem->low_size)
		return mem->host + gpa;
	if (gpa >= VMM_HIGH_START && gpa + len - VMM_HIGH_START <= high)
		return mem->host + mem->low_size + (gpa - VMM_HIGH_START);
	return NULL;
}

/* Read up to len bytes, fewer only at end of file.  -1 on error. */
static ssize_t read_full(int fd, void *buf, size_t len)
{
	size_t done = 0;
	ssize_t n;

	while (done < len) {
		n = read(fd, (uint8_t *)buf + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		done += n;
	}
	return done;
}

/*
 * Stream the rest of fd into [dst, dst + room).  Returns the bytes read,
 * or -1 on a read error; *more is set when the file goes on past room.
 */
static ssize_t stream_in(int fd, uint8_t *dst, uint64_t room, int *more)
{
	ssize_t n;
	uint8_t probe;

	n = read_full(fd, dst, room);
	if (n < 0)
		return -1;
	*more = 0;
	if ((uint64_t)n == room) {
		ssize_t m;

		do {
			m = read(fd, &probe, 1);
		} while (m < 0 && errno == EINTR);
		if (m < 0)
			return -1;
		*more = m > 0;
	}
	return n;
}

static void e820_add(struct boot_params *bp, uint64_t addr, uint64_t size,
		     uint32_t type)
{
	struct boot_e820_entry *e = &bp->e820_table[bp->e820_entries++];

	e->addr = addr;
	e->size = size;
	e->type = type;
}

/* A GDT with the flat __BOOT_CS (0x10) and __BOOT_DS (0x18) of boot.rst. */
static void write_gdt(struct vmm_mem *mem)
{
	uint64_t *gdt = vmm_gpa(mem, VMM_GDT_ADDR, 6 * 8);

	gdt[0] = 0;
	gdt[1] = 0;
	gdt[2] = 0x00af9b000000ffffULL;	/* 64-bit code, execute/read */
	gdt[3] = 0x00cf93000000ffffULL;	/* 4 GiB data, read/write */
	gdt[4] = 0x00008b0000000067ULL;	/* a busy 64-bit TSS at 0 */
	gdt[5] = 0;
}

/*
 * The reset vector (0xffff0, where a BIOS would start): a guest that jumps
 * there to restart, as Linux does when its other reboot methods are gone
 * (with hardware-reduced ACPI it tries EFI, then the BIOS), finds
 * "mov al, 0xfe; out 0x64, al", the keyboard controller's reset command,
 * which ends the VMM; then "hlt" in a loop.
 */
static void write_reset_vector(struct vmm_mem *mem)
{
	static const uint8_t code[] = {
		0xb0, 0xfe,		/* mov al, 0xfe */
		0xe6, 0x64,		/* out 0x64, al */
		0xf4,			/* hlt */
		0xeb, 0xfd,		/* jmp to the hlt */
	};

	memcpy(vmm_gpa(mem, VMM_RESET_VECTOR, sizeof(code)), code, sizeof(code));
}

/* Identity map of the first 4 GiB with 2 MiB pages. */
static void write_page_tables(struct vmm_mem *mem)
{
	uint64_t *pml4 = vmm_gpa(mem, VMM_PML4_ADDR, 6 * 4096);
	uint64_t *pdpt = pml4 + 512, *pd = pml4 + 1024;
	uint64_t i;

	memset(pml4, 0, 6 * 4096);
	pml4[0] = (VMM_PML4_ADDR + 0x1000) | 0x3;	/* present, writable */
	for (i = 0; i < 4; i++)
		pdpt[i] = (VMM_PML4_ADDR + 0x2000 + i * 0x1000) | 0x3;
	for (i = 0; i < 4 * 512; i++)
		pd[i] = (i << 21) | 0x83;		/* present, rw, 2 MiB */
}

static int load_initrd(struct vmm_mem *mem, int fd, uint64_t free_start,
		       uint64_t top, struct vmm_boot_info *info)
{
	struct stat st;
	uint64_t addr;
	ssize_t n;
	int more;

	if (free_start >= top) {
		vmm_err("too little memory: %llu MiB leaves no room for the initramfs above the kernel (it needs %llu MiB)",
			(unsigned long long)(mem->size / MiB),
			(unsigned long long)(free_start / MiB));
		return -1;
	}
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
		/* Known size: straight to its place at the top. */
		if ((uint64_t)st.st_size > top - free_start) {
			vmm_err("too little memory: the initramfs (%llu MiB) does not fit above the kernel: give at least %llu MiB",
				(unsigned long long)(st.st_size / MiB),
				(unsigned long long)((free_start + st.st_size) / MiB + 1));
			return -1;
		}
		addr = ALIGN_DOWN(top - st.st_size, 4096);
		n = stream_in(fd, mem->host + addr, top - addr, &more);
	} else {
		/* Unknown size: after the kernel, then moved to the top. */
		n = stream_in(fd, mem->host + free_start, top - free_start, &more);
		if (n >= 0 && more) {
			vmm_err("too little memory: the initramfs does not fit in the %llu MiB above the kernel",
				(unsigned long long)((top - free_start) / MiB));
			return -1;
		}
		addr = n >= 0 ? ALIGN_DOWN(top - n, 4096) : 0;
		if (n > 0)
			memmove(mem->host + addr, mem->host + free_start, n);
	}
	if (n < 0) {
		vmm_err("reading the initramfs: %s", strerror(errno));
		return -1;
	}
	info->initrd_addr = addr;
	info->initrd_size = n;
	return 0;
}

int vmm_load_linux(struct vmm_mem *mem, int kernel_fd, int initrd_fd,
		   const char *cmdline, struct vmm_boot_info *info)
{
	uint8_t *setup = NULL, *dst, *zero_page;
	struct setup_header *hdr;
	struct boot_params *bp;
	unsigned int setup_sects, hdr_end;
	uint64_t syssize, need, top, room, base;
	size_t cmdlen = strlen(cmdline);
	ssize_t n;
	int more, ret = -1;

	memset(info, 0, sizeof(*info));
	/* The boot sector: up to and including the first part of the header. */
	setup = malloc(SECTOR);
	if (!setup) {
		vmm_err("out of memory");
		return -1;
	}
	n = read_full(kernel_fd, setup, SECTOR);
	if (n < 0) {
		vmm_err("reading the kernel image: %s", strerror(errno));
		goto out;
	}
	if (n < SECTOR) {
		vmm_err("kernel image too short (%zd bytes): not a bzImage", n);
		goto out;
	}
	if ((setup[0x1fe] | setup[0x1ff] << 8) != BOOT_FLAG) {
		vmm_err("kernel image has no boot sector signature (0xaa55 at 0x1fe): not a bzImage");
		goto out;
	}
	setup_sects = setup[HDR_OFFSET] ? setup[HDR_OFFSET] : 4;

	/* The real-mode setup code, with the rest of the setup header. */
	dst = realloc(setup, (setup_sects + 1) * SECTOR);
	if (!dst) {
		vmm_err("out of memory");
		goto out;
	}
	setup = dst;
	n = read_full(kernel_fd, setup + SECTOR, setup_sects * SECTOR);
	if (n < 0) {
		vmm_err("reading the kernel image: %s", strerror(errno));
		goto out;
	}
	if (n < (ssize_t)setup_sects * SECTOR) {
		vmm_err("kernel image truncated in its setup code (setup_sects %u)",
			setup_sects);
		goto out;
	}
	hdr = (struct setup_header *)(setup + HDR_OFFSET);
	if (hdr->header != HDR_MAGIC) {
		vmm_err("kernel image has no \"HdrS\" magic at 0x202: not a Linux bzImage");
		goto out;
	}
	info->protocol = hdr->version;
	if (hdr->version < MIN_PROTOCOL) {
		vmm_err("kernel boot protocol %u.%02u is too old: 2.12 or newer is needed for the 64-bit entry",
			hdr->version >> 8, hdr->version & 0xff);
		goto out;
	}
	if (!(hdr->loadflags & LOADED_HIGH)) {
		vmm_err("kernel image is a zImage (not LOADED_HIGH): only bzImages are supported");
		goto out;
	}
	if (!(hdr->xloadflags & XLF_KERNEL_64)) {
		vmm_err("kernel image has no 64-bit entry point (XLF_KERNEL_64 not set)");
		goto out;
	}
	/* The header ends at 0x202 plus the byte at 0x201 (the jump). */
	hdr_end = 0x202 + setup[0x201];
	if (hdr_end > HDR_AREA_END)
		hdr_end = HDR_AREA_END;
	if (cmdlen >= hdr->cmdline_size) {
		vmm_err("command line too long: %zu bytes, the kernel takes at most %u",
			cmdlen, hdr->cmdline_size - 1);
		goto out;
	}

	/*
	 * Where the kernel runs: it decompresses itself to pref_address (or
	 * higher) and needs init_size bytes there.
	 */
	syssize = (uint64_t)hdr->syssize * 16;
	base = hdr->pref_address > VMM_KERNEL_ADDR ? hdr->pref_address : VMM_KERNEL_ADDR;
	need = base + (hdr->init_size > syssize ? hdr->init_size : syssize);
	info->kernel_need = need;
	if (need > mem->low_size) {
		vmm_err("too little memory: %llu MiB, the kernel alone needs %llu MiB (to decompress and run)",
			(unsigned long long)(mem->size / MiB),
			(unsigned long long)((need + MiB - 1) / MiB));
		goto out;
	}

	/* Stream the protected-mode kernel to 1 MiB. */
	room = mem->low_size - VMM_KERNEL_ADDR;
	n = stream_in(kernel_fd, mem->host + VMM_KERNEL_ADDR, room, &more);
	if (n < 0) {
		vmm_err("reading the kernel image: %s", strerror(errno));
		goto out;
	}
	if (more) {
		vmm_err("kernel image does not fit in %llu MiB of memory",
			(unsigned long long)(mem->size / MiB));
		goto out;
	}
	if ((uint64_t)n < syssize) {
		vmm_err("kernel image truncated: %zd bytes of protected-mode code, the header says %llu",
			n, (unsigned long long)syssize);
		goto out;
	}
	info->kernel_bytes = n;
	if (VMM_KERNEL_ADDR + n > need)
		need = VMM_KERNEL_ADDR + n;

	/* The zero page: the image's setup header, then what we fill in. */
	zero_page = vmm_gpa(mem, VMM_BOOT_PARAMS_ADDR, sizeof(*bp));
	if (!zero_page || !vmm_gpa(mem, VMM_CMDLINE_ADDR, cmdlen + 1)) {
		vmm_err("too little memory for the boot parameters");
		goto out;
	}
	memset(zero_page, 0, sizeof(*bp));
	memcpy(zero_page + HDR_OFFSET, setup + HDR_OFFSET, hdr_end - HDR_OFFSET);
	bp = (struct boot_params *)zero_page;
	hdr = &bp->hdr;
	hdr->type_of_loader = 0xff;		/* no registered loader ID */
	hdr->cmd_line_ptr = VMM_CMDLINE_ADDR;
	memcpy(vmm_gpa(mem, VMM_CMDLINE_ADDR, cmdlen + 1), cmdline, cmdlen + 1);

	if (initrd_fd >= 0) {
		top = mem->low_size;
		if (hdr->initrd_addr_max && top > (uint64_t)hdr->initrd_addr_max + 1)
			top = (uint64_t)hdr->initrd_addr_max + 1;
		if (load_initrd(mem, initrd_fd, ALIGN_UP(need, 4096), top, info))
			goto out;
		hdr->ramdisk_image = info->initrd_addr;
		hdr->ramdisk_size = info->initrd_size;
	}

	e820_add(bp, 0, VMM_EBDA_ADDR, E820_RAM);
	e820_add(bp, VMM_EBDA_ADDR, VMM_KERNEL_ADDR - VMM_EBDA_ADDR, E820_RESERVED);
	e820_add(bp, VMM_KERNEL_ADDR, mem->low_size - VMM_KERNEL_ADDR, E820_RAM);
	if (mem->size > mem->low_size)
		e820_add(bp, VMM_HIGH_START, mem->size - mem->low_size, E820_RAM);

	write_gdt(mem);
	write_page_tables(mem);
	write_reset_vector(mem);
	info->entry = VMM_KERNEL_ADDR + 0x200;
	ret = 0;
out:
	free(setup);
	return ret;
}
