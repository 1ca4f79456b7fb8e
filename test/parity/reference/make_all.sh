#!/usr/bin/env bash
# The GPU-machine call that makes the parity fixtures (README.md beside this file). From the repo root:
#   source .devkit/setup.sh && bash test/parity/reference/make_all.sh "$OUT" [tiny-sd] [sdxl] [inpaint] [controlnet]
# Each family runs on its own (one failing does not stop the others): <out>/<family>.log and <out>/<family>.tgz.
# tiny-sd re-makes the committed fixture through sd_export.py and compares it with the committed files.
set -uo pipefail
out="$(cd "$1" && pwd)"; shift
fams="${*:-tiny-sd sdxl inpaint controlnet}"
cd "$(dirname "$0")"
work="$(mktemp -d)"
for fam in $fams; do
  dir="$work/$fam"; mkdir -p "$dir"
  case "$fam" in
    tiny-sd)
      { timeout 300 python3 make_tiny_sd.py "$dir" && python3 sd_export.py compare "$dir/tiny-sd" ../../fixtures/tiny-sd \
        && python3 -c 'import gzip, json, sys
a = json.load(open(sys.argv[1])); b = json.load(gzip.open(sys.argv[2]))
print("reference.json equal to the committed one:", a == b)
print("runs with other latents or images:", [r["name"] for r, s in zip(a["runs"], b["runs"]) if (r["latents"], r["image"]) != (s["latents"], s["image"])])' \
          "$dir/reference.json" ../../fixtures/tiny-sd-reference.json.gz; } > "$out/$fam.log" 2>&1 ;;
    sdxl) timeout 400 python3 make_sdxl_refs.py "$dir" > "$out/$fam.log" 2>&1 ;;
    inpaint) timeout 300 python3 make_inpaint_refs.py "$dir" > "$out/$fam.log" 2>&1 ;;
    controlnet) timeout 300 python3 make_controlnet_refs.py "$dir" > "$out/$fam.log" 2>&1 ;;
    *) echo "unknown family $fam" > "$out/$fam.log"; continue ;;
  esac
  echo "rc=$?" >> "$out/$fam.log"
  find "$dir" -type f -o -type l | xargs ls -ld >> "$out/$fam.log" 2>&1
  tar czf "$out/$fam.tgz" -C "$dir" .
  tail -3 "$out/$fam.log"
done
