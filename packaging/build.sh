#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Package builders behind the top-level Makefile's verbs.
#
#   packaging/build.sh deb [OUTDIR]        vhost-kt-dkms_<ver>_all.deb
#   packaging/build.sh rpm [OUTDIR]        vhost-kt-dkms-<ver>-1.noarch.rpm
#   packaging/build.sh dist [OUTDIR]       vhost-kt-<ver>.tar.gz (RPM Source0)
#   packaging/build.sh dkms-tree DESTDIR   the sources dkms needs, dkms.conf
#                                          filled (used by make dkms-install)
#
# OUTDIR defaults to out/ at the top of the tree.  The version is read from
# the top-level VERSION file and nowhere else: the Debian changelog, the RPM
# spec's Version and dkms.conf's PACKAGE_VERSION are filled from it here.
#
# Packages are built from a copy of the tree in a temporary directory (never
# inside the checkout): dpkg-buildpackage wants debian/ at the top of the
# source, and the copy holds only files git knows about (tracked or not
# ignored, minus anything that looks like a build product), so the objects of
# a local `make` never end up in a package.

set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
version=$(tr -d '[:space:]' < "$top/VERSION")
placeholder='#MODULE_VERSION#'

die() { echo "build.sh: $*" >&2; exit 1; }

# Debian and RPM both accept this; anything else would need mangling.
[[ $version =~ ^[0-9]+(\.[0-9]+)*([~+][0-9A-Za-z.]+)?$ ]] ||
	die "VERSION '$version' is not of the form 1.2.3 (optionally ~rc1 or +x)"

# What kbuild leaves in the tree, in case .gitignore misses some of it
# (dependency files like .foo.o.d exist while a build is running).
build_products='(^|/)(\.[^/]*\.(cmd|d|tmp)|\.tmp_[^/]*|[^/]*\.(o|ko|a|mod|mod\.c|order|symvers))$'

# The files a source tree of vhost-kt is made of, one per line, relative to
# the top.  Without git (a release tarball), everything but build products.
list_sources() {
	if git -C "$top" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
		git -C "$top" ls-files --cached --others --exclude-standard |
			while IFS= read -r f; do
				# Tracked files deleted in the work tree are not sources.
				if [[ -e $top/$f || -L $top/$f ]]; then
					printf '%s\n' "$f"
				fi
			done
	else
		(cd "$top" && find . -path ./.git -prune -o \
			\( -type f -o -type l \) -print | sed 's|^\./||')
	fi | grep -v '^out/' | grep -Ev "$build_products" | LC_ALL=C sort
}

# stage_tree DEST: copy the source tree to DEST.
stage_tree() {
	mkdir -p "$1"
	list_sources | tar -C "$top" --no-recursion -cf - -T - | tar -C "$1" -xf -
}

fill_version() {
	sed -i "s/$placeholder/$version/g" "$@"
}

# The date of the last commit keeps rebuilds of one commit identical.
build_date() {
	local epoch

	epoch=$(git -C "$top" log -1 --format=%ct 2>/dev/null) || epoch=
	echo "${SOURCE_DATE_EPOCH:-${epoch:-$(date +%s)}}"
}

mktemp_stage() {
	stage=$(mktemp -d "${TMPDIR:-/tmp}/vhost-kt-pkg.XXXXXX")
	trap 'rm -rf "$stage"' EXIT
}

outdir() {
	mkdir -p "${1:-$top/out}"
	(cd "${1:-$top/out}" && pwd)
}

do_dkms_tree() {
	local dest=$1 d

	[[ -n $dest ]] || die "dkms-tree needs a destination directory"
	mkdir -p "$dest"
	# Exactly what vhost_kt.ko is built from; tests/ (and its test module)
	# stays out.
	list_sources | grep -E '^(Kbuild|VERSION|dkms\.conf|include/|src/)' |
		tar -C "$top" --no-recursion -cf - -T - | tar -C "$dest" -xf -
	fill_version "$dest/dkms.conf"
	for d in Kbuild VERSION dkms.conf src/main.c; do
		[[ -e $dest/$d ]] || die "$d missing from the source tree"
	done
}

do_deb() {
	local out src maint

	command -v dpkg-buildpackage >/dev/null ||
		die "dpkg-buildpackage not found (apt-get install dpkg-dev debhelper dh-dkms)"
	out=$(outdir "${1:-}")
	mktemp_stage
	src=$stage/vhost-kt-$version
	stage_tree "$src"
	rm -rf "$src/debian"
	# -L: the udev and modprobe files in packaging/debian are symlinks to
	# the copies that the RPM and `make install` use too.
	cp -rL "$src/packaging/debian" "$src/debian"

	maint=$(sed -n 's/^Maintainer: *//p' "$src/debian/control")
	cat > "$src/debian/changelog" <<-EOF
	vhost-kt ($version) unstable; urgency=medium

	  * Release $version (see the git history for changes).

	 -- $maint  $(date -R -u -d "@$(build_date)")
	EOF

	(cd "$src" && SOURCE_DATE_EPOCH=$(build_date) \
		dpkg-buildpackage --build=binary --no-sign -us -uc)
	cp "$stage"/vhost-kt-dkms_"$version"_all.deb "$out"/
	echo "$out/vhost-kt-dkms_${version}_all.deb"
}

do_dist() {
	local out spec maint name=vhost-kt-$version

	out=$(outdir "${1:-}")
	mktemp_stage
	stage_tree "$stage/$name"
	# A tarball that `rpmbuild -ta` can build as it is.
	spec=$stage/$name/packaging/rpm/vhost-kt.spec
	# Only the Version tag: %install fills dkms.conf's placeholder itself.
	sed -i "s/^\(Version:[[:space:]]*\)$placeholder\$/\1$version/" "$spec"
	grep -q "^Version:[[:space:]]*$version\$" "$spec" || die "no Version: $placeholder in $spec"
	# A tree unpacked from such a tarball has the entry already.
	if ! sed -n '/^%changelog/,$p' "$spec" | grep -q '^\* '; then
		maint=$(sed -n 's/^Maintainer: *//p' "$top/packaging/debian/control")
		printf '* %s %s - %s-1\n- Release %s (see the git history for changes).\n' \
			"$(LC_ALL=C date -u -d "@$(build_date)" '+%a %b %d %Y')" \
			"$maint" "$version" "$version" >> "$spec"
	fi
	tar -C "$stage" --sort=name --owner=0 --group=0 --numeric-owner \
		--mtime="@$(build_date)" -czf "$out/$name.tar.gz" "$name"
	echo "$out/$name.tar.gz"
}

do_rpm() {
	local out tarball

	command -v rpmbuild >/dev/null || die "rpmbuild not found (apt-get install rpm)"
	out=$(outdir "${1:-}")
	tarball=$(do_dist "$out" | tail -n1)
	# do_dist's stage is gone with its trap; this one is rpmbuild's _topdir.
	mktemp_stage
	mkdir -p "$stage"/{SOURCES,SPECS,BUILD,RPMS,SRPMS}
	cp "$tarball" "$stage/SOURCES/"
	tar -xzOf "$tarball" "vhost-kt-$version/packaging/rpm/vhost-kt.spec" \
		> "$stage/SPECS/vhost-kt.spec"
	SOURCE_DATE_EPOCH=$(build_date) rpmbuild -bb \
		--define "_topdir $stage" \
		--define "use_source_date_epoch_as_buildtime 1" \
		"$stage/SPECS/vhost-kt.spec"
	find "$stage/RPMS" -name '*.rpm' -exec cp {} "$out"/ \; -printf "$out/%f\n"
}

case ${1:-} in
deb)		do_deb "${2:-}" ;;
rpm)		do_rpm "${2:-}" ;;
dist)		do_dist "${2:-}" ;;
dkms-tree)	do_dkms_tree "${2:-}" ;;
*)		die "usage: $0 deb|rpm|dist [OUTDIR] | dkms-tree DESTDIR" ;;
esac
