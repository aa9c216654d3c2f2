#!/usr/bin/env bash
# Shrinks .device (made by /work/shared/device/bundle.sh) under the device tool's 64 MiB per call: the jars
# are re-stored without compression and packed into one lib.tar.xz (xz across all jars beats each jar's own
# deflate: 39 MB of jars became 17 MB), and the launchers unpack it on first use (python3's tarfile, so no
# xz binary is needed on the GPU machine).   usage: bash bench/pack-device.sh [.device]
set -euo pipefail
d=$(cd "${1:-.device}" && pwd)
[ -d "$d/lib" ] || { echo "no $d/lib: already packed?"; exit 0; }
tmp=$(mktemp -d)
mkdir "$tmp/lib"
for j in "$d"/lib/*.jar; do
  x=$(mktemp -d)
  # without the kernels' PTX (as for the classes below)
  (cd "$x" && unzip -q "$j" && find . -path '*/io/cohort/cuda/kernels/*.ptx' -delete && zip -q -0 -r -X "$tmp/lib/$(basename "$j")" .)
  rm -rf "$x"
done
tar cJf "$d/lib.tar.xz" -C "$tmp" lib
rm -rf "$tmp" "$d/lib"
# the classes too, without the kernels' PTX (the fatbins carry sm_90 code for the H200, and PTX for others)
find "$d/classes" -path '*/io/cohort/cuda/kernels/*.ptx' -delete
tar cJf "$d/classes.tar.xz" -C "$d" classes && rm -rf "$d/classes"
unpack='for x in lib classes; do [ -d "$d/$x" ] || python3 -c "import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])" "$d/$x.tar.xz" "$d"; done'
# the JRE as xz too (29 MB of gzip became 26 MB): unpacked by python3 into /tmp/jre, as tar did
if [ -f "$d/jre.tgz" ]; then
  x=$(mktemp -d)
  tar xzf "$d/jre.tgz" -C "$x" && tar cJf "$d/jre.tar.xz" -C "$x" . && rm -rf "$x" "$d/jre.tgz"
  jre='[ -x /tmp/jre/bin/java ] || python3 -c "import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])" "$d/jre.tar.xz" /tmp'
  for f in java junit; do
    awk -v line="$jre" '/jre.tgz/ {print line; next} {print}' "$d/$f" > "$d/$f.new" && mv "$d/$f.new" "$d/$f"
  done
fi
# JUnit's tree is printed when the run ends: a step cut at its time limit would print nothing. testfeed prints
# each test as it finishes.
sed -i 's/--details=tree/--details=testfeed/' "$d/junit"
for f in java junit; do
  awk -v line="$unpack" '{print} /^d=/ && !done {print line; done=1}' "$d/$f" > "$d/$f.new" && mv "$d/$f.new" "$d/$f"
done
du -sh "$d"
