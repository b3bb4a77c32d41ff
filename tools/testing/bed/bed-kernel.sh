#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Prints the version of the kernel the SVM bed boots by default: the newest
# Debian 6.1 amd64 kernel in /boot.  The bed's modules are built against
# this kernel's headers, whatever kernel the host runs.
ls /boot/vmlinuz-6.1.*-amd64 2>/dev/null | sed 's|^/boot/vmlinuz-||' | sort -V | tail -n 1
