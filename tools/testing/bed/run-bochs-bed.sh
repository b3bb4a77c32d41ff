#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# run-bochs-bed.sh - the nkvm VMX test bed: run-bed.sh --bed vmx.
#
# Debian's kernel boots under Bochs (/usr/bin/bochs-bin, CPU model
# corei7_skylake_x: VMX with EPT, VPID and unrestricted guest) from a grub
# ISO; Debian's kvm-intel and nkvm's kvm-intel run the test programs in the
# same boot.  Takes every option of run-bed.sh; the output ends with the
# same "N passed, N failed, N skipped" line.
exec "$(dirname "${BASH_SOURCE[0]}")/run-bed.sh" --bed vmx "$@"
