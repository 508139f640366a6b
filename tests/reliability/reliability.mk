# Reliability rig (tests/reliability/): `make reliability` runs the full
# sizes (a 1,000,000-connection soak, 3,000 slowloris connections, 100,000
# SYNs; bounded at 5 h) and prints its PASS/FAIL lines and figures; the log
# stays in $(O)/reliability-full.log. The short version runs in `make test`
# as the rig suite rig/run_reliability. Needs root.
.PHONY: reliability
reliability: all
	@tests/deps.sh test
	@mkdir -p $(O)
	@REL_FULL=1 timeout 18000 bash tests/reliability/run_reliability.sh >$(O)/reliability-full.log 2>&1; rc=$$?; \
		grep -E '^(PASS|FAIL|SKIP|# )' $(O)/reliability-full.log; \
		echo "reliability: $$(grep -c '^PASS' $(O)/reliability-full.log) passed, $$(grep -c '^FAIL' $(O)/reliability-full.log) failed (exit $$rc)"; \
		exit $$rc
