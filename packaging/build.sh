#!/usr/bin/env bash
# Builds the Debian package and the binary it holds:
#   packaging/build.sh [--aot]
#   -> artifacts/packages/cloudmount_VERSION_amd64.deb   (/usr/bin/cloudmount, /sbin/mount.cloudmount and
#                                                       mount.fuse.cloudmount, man pages, cloudmount@.service)
#      artifacts/packages/cloudmount-VERSION-linux-x64   (the same binary, self-contained single file)
#      with --aot also artifacts/packages/cloudmount-VERSION-linux-x64-aot (NativeAOT; see the README for
#      why the package does not hold it: Google.Apis.Auth's Newtonsoft.Json cannot run under NativeAOT)
# Then runs lintian on the .deb and fails on any error it reports. VERSION is <Version> in Directory.Build.props.
set -uo pipefail
cd "$(dirname "$0")/.."
. scripts/step.sh
aot=0
case "${1:-}" in --aot) aot=1 ;; "") ;; *) echo "usage: $0 [--aot]" >&2; exit 2 ;; esac
command -v dotnet >/dev/null 2>&1 || { echo "build.sh: step 'find dotnet' failed: no dotnet on PATH" >&2; exit 1; }
scripts/install-build-deps.sh $([ $aot = 1 ] && echo --aot) || exit 1

step "read version" dotnet msbuild src/CloudMount.Cli -getProperty:Version -nologo || exit 1
version=$(tail -1 artifacts/logs/read-version.log | tr -d '[:space:]')
[[ "$version" =~ ^[0-9][0-9A-Za-z.+~-]*$ ]] || { echo "build.sh: step 'read version' failed: '$version' is not a version" >&2; exit 1; }
out=artifacts/packages
mkdir -p "$out"
rm -f "$out"/cloudmount_*.deb "$out"/cloudmount-*-linux-x64*

echo "build.sh: publishing cloudmount $version for linux-x64 (self-contained single file)" >&2
step "publish single-file" dotnet publish src/CloudMount.Cli -c Release -r linux-x64 --self-contained \
  -p:PublishSingleFile=true -p:DebugType=none -p:GenerateDocumentationFile=false \
  -o artifacts/publish/single-file --nologo || exit 1
binary=artifacts/publish/single-file/cloudmount
cp "$binary" "$out/cloudmount-$version-linux-x64"
if [ $aot = 1 ]; then
  echo "build.sh: publishing the NativeAOT binary" >&2
  step "publish aot" dotnet publish src/CloudMount.Cli -c Release -r linux-x64 -p:PublishAot=true \
    -p:GenerateDocumentationFile=false -o artifacts/publish/aot --nologo || exit 1
  cp artifacts/publish/aot/cloudmount "$out/cloudmount-$version-linux-x64-aot"
fi

# The package tree.
stage=artifacts/deb/cloudmount_${version}_amd64
rm -rf "$stage" && mkdir -p "$stage/DEBIAN"
epoch=$(git log -1 --format=%ct 2>/dev/null || date +%s)
date_man=$(date -u -d "@$epoch" +%Y-%m-%d)
date_rfc=$(date -u -R -d "@$epoch")
install -D -m 0755 "$binary" "$stage/usr/bin/cloudmount"
install -D -m 0755 packaging/deb/mount.cloudmount "$stage/sbin/mount.cloudmount"
ln -s mount.cloudmount "$stage/sbin/mount.fuse.cloudmount"
install -D -m 0644 packaging/systemd/cloudmount@.service "$stage/lib/systemd/system/cloudmount@.service"
install -D -m 0644 packaging/systemd/data.mount "$stage/usr/share/doc/cloudmount/examples/data.mount"
install -D -m 0644 packaging/deb/copyright "$stage/usr/share/doc/cloudmount/copyright"
install -D -m 0644 packaging/deb/lintian-overrides "$stage/usr/share/lintian/overrides/cloudmount"
for page in cloudmount.1 mount.cloudmount.8; do
  section=${page##*.}
  mkdir -p "$stage/usr/share/man/man$section"
  sed -e "s/@VERSION@/$version/g" -e "s/@DATE@/$date_man/g" "packaging/man/$page" | gzip -9n > "$stage/usr/share/man/man$section/$page.gz"
done
ln -s mount.cloudmount.8.gz "$stage/usr/share/man/man8/mount.fuse.cloudmount.8.gz"
printf 'cloudmount (%s) unstable; urgency=medium\n\n  * CloudMount %s.\n\n -- CloudMount developers <cloudmount@example.com>  %s\n' \
  "$version" "$version" "$date_rfc" | gzip -9n > "$stage/usr/share/doc/cloudmount/changelog.gz"
chmod 0644 "$stage/usr/share/doc/cloudmount/changelog.gz"
find "$stage" -type d -exec chmod 0755 {} +
find "$stage" -exec touch -h -d "@$epoch" {} +
installed_size=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
cat > "$stage/DEBIAN/control" <<CONTROL
Package: cloudmount
Version: $version
Architecture: amd64
Maintainer: CloudMount developers <cloudmount@example.com>
Installed-Size: $installed_size
Depends: fuse3, libc6, libgcc-s1, libstdc++6, libssl3, zlib1g, ca-certificates
Section: utils
Priority: optional
Description: mount cloud object storage as a local directory
 CloudMount mounts Amazon S3 and S3-compatible stores, Google Cloud Storage,
 OpenStack Swift, Azure Blob Storage, web server folders and local folders
 through FUSE, so ordinary tools work on a bucket as on a disk: reads become
 parallel range reads, listings become prefix listings, closed files become
 uploads, with a disk cache and transparent gzip/brotli/zstd decoding.
 .
 It includes the mount(8) helper for fstab lines of type cloudmount and a
 systemd template unit, cloudmount@.service.
CONTROL
(cd "$stage" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z | xargs -0 md5sum > DEBIAN/md5sums)
chmod 0644 "$stage/DEBIAN/control" "$stage/DEBIAN/md5sums"
deb="$out/cloudmount_${version}_amd64.deb"
step "dpkg-deb" dpkg-deb --root-owner-group -Zgzip -z9 --build "$stage" "$deb" || exit 1

echo "build.sh: lintian $deb" >&2
lintian --tag-display-limit 0 --info "$deb" > artifacts/logs/lintian.log 2>&1
cat artifacts/logs/lintian.log >&2
if grep -q '^E: ' artifacts/logs/lintian.log; then
  echo "build.sh: step 'lintian' failed: $(grep -m1 '^E: ' artifacts/logs/lintian.log)" >&2
  exit 1
fi
echo "build.sh: built $deb ($(du -h "$deb" | cut -f1)) and $out/cloudmount-$version-linux-x64" >&2
