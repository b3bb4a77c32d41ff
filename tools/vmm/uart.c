// SPDX-License-Identifier: GPL-2.0-only
/*
 * uart.c - a 16550A UART (8250 family) for COM1.
 *
 * Enough for Linux's 8250 driver and its console: the transmitter is always
 * ready (THR writes go out at once, LSR always says THRE and TEMT), the
 * receive FIFO is fed from the console input, loopback mode (MCR bit 4)
 * turns THR writes into received bytes and mirrors MCR into MSR as the
 * driver's probe expects, and the interrupt identification follows the
 * 16550's priorities: received data, then "THR empty".  The "THR empty"
 * interrupt is raised when the transmitter becomes empty (after each THR
 * write, and when it is enabled while the THR is empty) and cleared by a
 * THR write or by reading IIR when IIR reports it.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "vmm.h"

/* Register offsets and bits (the names of include/uapi/linux/serial_reg.h). */
#define UART_RX		0	/* in: receive buffer (DLAB=0) */
#define UART_TX		0	/* out: transmit holding (DLAB=0) */
#define UART_IER	1
#define UART_IIR	2	/* in */
#define UART_FCR	2	/* out */
#define UART_LCR	3
#define UART_MCR	4
#define UART_LSR	5
#define UART_MSR	6
#define UART_SCR	7

#define UART_IER_RDI	0x01
#define UART_IER_THRI	0x02
#define UART_IIR_NO_INT	0x01
#define UART_IIR_THRI	0x02
#define UART_IIR_RDI	0x04
#define UART_IIR_FIFO	0xc0
#define UART_FCR_ENABLE	0x01
#define UART_FCR_CLR_RX	0x02
#define UART_LCR_DLAB	0x80
#define UART_MCR_DTR	0x01
#define UART_MCR_RTS	0x02
#define UART_MCR_OUT1	0x04
#define UART_MCR_OUT2	0x08
#define UART_MCR_LOOP	0x10
#define UART_LSR_DR	0x01
#define UART_LSR_THRE	0x20
#define UART_LSR_TEMT	0x40
#define UART_MSR_CTS	0x10
#define UART_MSR_DSR	0x20
#define UART_MSR_RI	0x40
#define UART_MSR_DCD	0x80

void vmm_uart_init(struct vmm_uart *u, int out_fd,
		   void (*set_irq)(void *opaque, int level), void *opaque)
{
	memset(u, 0, sizeof(*u));
	pthread_mutex_init(&u->lock, NULL);
	pthread_cond_init(&u->room, NULL);
	u->out_fd = out_fd;
	u->set_irq = set_irq;
	u->opaque = opaque;
	u->dll = 12;		/* 9600 baud */
}

static uint8_t iir(const struct vmm_uart *u)
{
	uint8_t fifo = (u->fcr & UART_FCR_ENABLE) ? UART_IIR_FIFO : 0;

	if ((u->ier & UART_IER_RDI) && u->rx_count)
		return fifo | UART_IIR_RDI;
	if ((u->ier & UART_IER_THRI) && u->thr_irq)
		return fifo | UART_IIR_THRI;
	return fifo | UART_IIR_NO_INT;
}

/* Put the line at the level the registers ask for (edge on a change). */
static void update_irq(struct vmm_uart *u)
{
	int level = !(iir(u) & UART_IIR_NO_INT);

	if (level != u->irq_level) {
		u->irq_level = level;
		if (u->set_irq)
			u->set_irq(u->opaque, level);
	}
}

static void rx_push(struct vmm_uart *u, uint8_t c)
{
	if (u->rx_count == sizeof(u->rx))
		return;		/* overrun: dropped */
	u->rx[(u->rx_head + u->rx_count) % sizeof(u->rx)] = c;
	u->rx_count++;
}

static void transmit(struct vmm_uart *u, uint8_t c)
{
	ssize_t n;

	if (u->mcr & UART_MCR_LOOP) {
		rx_push(u, c);
		return;
	}
	do {
		n = write(u->out_fd, &c, 1);
	} while (n < 0 && errno == EINTR);
}

uint8_t vmm_uart_read(struct vmm_uart *u, unsigned int off)
{
	uint8_t val = 0;

	pthread_mutex_lock(&u->lock);
	switch (off) {
	case UART_RX:
		if (u->lcr & UART_LCR_DLAB) {
			val = u->dll;
			break;
		}
		if (u->rx_count) {
			val = u->rx[u->rx_head];
			u->rx_head = (u->rx_head + 1) % sizeof(u->rx);
			u->rx_count--;
			pthread_cond_signal(&u->room);
		}
		break;
	case UART_IER:
		val = (u->lcr & UART_LCR_DLAB) ? u->dlm : u->ier;
		break;
	case UART_IIR:
		val = iir(u);
		if ((val & 0x0f) == UART_IIR_THRI)
			u->thr_irq = 0;
		break;
	case UART_LCR:
		val = u->lcr;
		break;
	case UART_MCR:
		val = u->mcr;
		break;
	case UART_LSR:
		val = UART_LSR_THRE | UART_LSR_TEMT |
		      (u->rx_count ? UART_LSR_DR : 0);
		break;
	case UART_MSR:
		if (u->mcr & UART_MCR_LOOP) {
			val = (u->mcr & UART_MCR_RTS ? UART_MSR_CTS : 0) |
			      (u->mcr & UART_MCR_DTR ? UART_MSR_DSR : 0) |
			      (u->mcr & UART_MCR_OUT1 ? UART_MSR_RI : 0) |
			      (u->mcr & UART_MCR_OUT2 ? UART_MSR_DCD : 0);
		} else {
			val = UART_MSR_DCD | UART_MSR_DSR | UART_MSR_CTS;
		}
		break;
	case UART_SCR:
		val = u->scr;
		break;
	}
	update_irq(u);
	pthread_mutex_unlock(&u->lock);
	return val;
}

void vmm_uart_write(struct vmm_uart *u, unsigned int off, uint8_t val)
{
	pthread_mutex_lock(&u->lock);
	switch (off) {
	case UART_TX:
		if (u->lcr & UART_LCR_DLAB) {
			u->dll = val;
			break;
		}
		transmit(u, val);
		/* Sent at once: the THR is empty again. */
		u->thr_irq = 1;
		break;
	case UART_IER:
		if (u->lcr & UART_LCR_DLAB) {
			u->dlm = val;
			break;
		}
		if (!(u->ier & UART_IER_THRI) && (val & UART_IER_THRI))
			u->thr_irq = 1;
		u->ier = val & 0x0f;
		break;
	case UART_FCR:
		if (val & UART_FCR_CLR_RX) {
			u->rx_count = 0;
			pthread_cond_signal(&u->room);
		}
		u->fcr = val & 0xc9;
		break;
	case UART_LCR:
		u->lcr = val;
		break;
	case UART_MCR:
		u->mcr = val & 0x1f;
		break;
	case UART_SCR:
		u->scr = val;
		break;
	}
	update_irq(u);
	pthread_mutex_unlock(&u->lock);
}

void vmm_uart_receive(struct vmm_uart *u, const uint8_t *buf, size_t len)
{
	pthread_mutex_lock(&u->lock);
	while (len) {
		while (u->rx_count == sizeof(u->rx))
			pthread_cond_wait(&u->room, &u->lock);
		while (len && u->rx_count < sizeof(u->rx)) {
			rx_push(u, *buf++);
			len--;
		}
		update_irq(u);
	}
	pthread_mutex_unlock(&u->lock);
}
