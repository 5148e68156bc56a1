#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The long fuzz run (make fuzz): fuzz.sh with a random seed, printed first,
# for about 8 minutes.  To replay a failure, add `SEED PHASE ITERATIONS
# DEVICE...` to a file in tests/fuzz/regressions/, which fuzz.sh runs.
VKT_FUZZ_SEED='' VKT_FUZZ_SECONDS=480 VKT_FUZZ_ITERATIONS=1000000 \
	exec bash "$VKT_REPO/tests/guest/fuzz.sh"
