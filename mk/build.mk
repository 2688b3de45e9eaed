# Tests of the build's own machinery (scripts/tests/): scripts/deps.sh against lists of its own and
# a fake apt-get, and `make install`/`make uninstall` into a temporary DESTDIR.
.PHONY: test-scripts test-deps test-install

test-deps:
	scripts/tests/deps.sh

test-install: release rootfs
	scripts/tests/install.sh

test-scripts: test-deps test-install

TEST_TARGETS += test-scripts
