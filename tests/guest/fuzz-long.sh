#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The long fuzz run (make fuzz): fuzz.sh with a random seed, printed first,
# for about 8 minutes, then 8 minutes of the racing phase.  To replay a
# failure, add `SEED PHASE ITERATIONS DEVICE...` to a file in
# tests/fuzz/regressions/, which fuzz.sh runs.
#
# A file of settings from the host (make fuzz FUZZ_PARAMS=FILE) may change
# any of these; e.g. a 30-minute racing soak of the kthread node alone:
#   VKT_FUZZ_SECONDS=0 VKT_FUZZ_RACE_SECONDS=1800
#   VKT_FUZZ_RACE_NODES=/dev/vhost-kt-net-kthread
VKT_FUZZ_SEED='' VKT_FUZZ_SECONDS=480 VKT_FUZZ_ITERATIONS=1000000
VKT_FUZZ_RACE_SECONDS=480
[ -z "${VKT_GUEST_PARAMS:-}" ] || . "$VKT_GUEST_PARAMS"
export VKT_FUZZ_SEED VKT_FUZZ_SECONDS VKT_FUZZ_ITERATIONS VKT_FUZZ_RACE_SECONDS
export VKT_FUZZ_RACE_NODES
exec bash "$VKT_REPO/tests/guest/fuzz.sh"
