# make                      the release binary (swift build -c release)
# make install              installs it with tools/install: PREFIX (default /usr), DESTDIR (default none)
# make deb                  the Debian package with tools/build-deb, in .build-deb/
# `make && sudo make install` builds as you and installs as root; tools/install alone builds too.
PREFIX ?= /usr
DESTDIR ?=
BINARY := .build/release/careMonitord

.PHONY: all install deb
all:
	swift build -c release --product careMonitord

install:
	@test -x $(BINARY) || { echo "make install: no $(BINARY): run make first" >&2; exit 1; }
	tools/install --binary $(BINARY) --prefix "$(PREFIX)" --destdir "$(DESTDIR)"

deb:
	tools/build-deb
