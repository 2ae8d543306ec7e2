#!/usr/bin/env bash
# Builds the Dockerfile's base image from Debian packages when no container registry answers
# (python:3.x-slim-bookworm cannot be pulled): Debian bookworm (minbase) with python3, venv,
# python-is-python3, libgomp1 (LightGBM's OpenMP) and CA certificates, committed with buildah as
# $BASE_IMAGE. The machine's extra CA certificates (/usr/local/share/ca-certificates: the ones pip
# trusts here, e.g. an egress proxy's) are copied in, or pip inside the build fails TLS.
# Idempotent: an existing $BASE_IMAGE is kept (delete it with `buildah rmi` to rebuild).
set -euo pipefail

BASE_IMAGE=${BASE_IMAGE:-localhost/processor-base:bookworm}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
SUITE=bookworm

if buildah inspect --type image "$BASE_IMAGE" >/dev/null 2>&1; then
    echo "base image $BASE_IMAGE exists"
    exit 0
fi
command -v debootstrap >/dev/null || { apt-get update -qq && apt-get install -y -qq debootstrap; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root="$work/rootfs"
echo "debootstrap $SUITE into $root (a few minutes)"
debootstrap --variant=minbase \
    --include=python3,python3-venv,python-is-python3,ca-certificates,libgomp1 \
    "$SUITE" "$root" "$MIRROR" >"$work/debootstrap.log" 2>&1 || { tail -30 "$work/debootstrap.log"; exit 1; }

# the extra CAs the host trusts, then the bundle rebuilt inside the root
if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
    cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/"
fi
chroot "$root" update-ca-certificates >/dev/null
# the security updates of the release (bookworm-security), as a registry's image would carry
printf 'deb %s %s main\ndeb %s %s-updates main\ndeb http://deb.debian.org/debian-security %s-security main\n' \
    "$MIRROR" "$SUITE" "$MIRROR" "$SUITE" "$SUITE" >"$root/etc/apt/sources.list"
# a slim image: no apt lists, caches, docs, man pages or translations (33 MB of them)
chroot "$root" apt-get clean
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/* "$root"/usr/share/doc/* "$root"/usr/share/man/* \
    "$root"/usr/share/locale/* \
    "$root"/usr/share/info/* "$root"/var/log/*.log

tar -C "$root" -cf "$work/rootfs.tar" .
ctr=$(buildah from scratch)
buildah add "$ctr" "$work/rootfs.tar" / >/dev/null
buildah config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --cmd '["python3"]' "$ctr"
buildah commit --rm "$ctr" "$BASE_IMAGE" >/dev/null
echo "base image $BASE_IMAGE: $(buildah inspect --type image --format '{{.Docker.Size}}' "$BASE_IMAGE" 2>/dev/null || true)"
