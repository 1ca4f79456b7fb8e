#!/usr/bin/env bash
# The GPU-machine call that makes the parity fixtures (README.md beside this file). From the repo root:
#   source .devkit/setup.sh && bash test/parity/reference/make_all.sh "$OUT" [tiny-sd] [sdxl] [sdxl-refiner] [inpaint] [controlnet]
# Each family runs on its own (one failing does not stop the others): <out>/<family>.log and <out>/<family>.tgz.
# Then every file made is compared with the committed one under test/fixtures/ (same relative path).
# tiny-sd re-makes the committed fixture through sd_export.py (graphs also compared by their outputs).
set -uo pipefail
export PYTHONHASHSEED=0  # diffusers keeps `_use_default_values` in a set: a fixed order makes re-runs byte-identical
out="$(cd "$1" && pwd)"; shift
fams="${*:-tiny-sd sdxl inpaint controlnet}"
cd "$(dirname "$0")"
work="$(mktemp -d)"

compare_with_committed() {  # $1: a family's output folder
  local same=0 differ=() p rel c
  while IFS= read -r p; do
    rel="${p#"$1"/}"; c="../../fixtures/$rel"
    case "$rel" in loader-copies/*|reference.json) continue ;; esac
    if [ -L "$p" ]; then [ "$(readlink "$p")" = "$(readlink "$c" 2>/dev/null)" ] && same=$((same + 1)) || differ+=("$rel")
    elif cmp -s "$p" "$c"; then same=$((same + 1)); else differ+=("$rel"); fi
  done < <(find "$1" -type f -o -type l)
  echo "against test/fixtures: $same same, ${#differ[@]} differ: ${differ[*]}"
}
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
    sdxl-refiner) timeout 300 python3 make_sdxl_refs.py "$dir" --only refiner > "$out/$fam.log" 2>&1 ;;
    inpaint) timeout 300 python3 make_inpaint_refs.py "$dir" > "$out/$fam.log" 2>&1 ;;
    controlnet) timeout 300 python3 make_controlnet_refs.py "$dir" > "$out/$fam.log" 2>&1 ;;
    *) echo "unknown family $fam" > "$out/$fam.log"; continue ;;
  esac
  echo "rc=$?" >> "$out/$fam.log"
  compare_with_committed "$dir" >> "$out/$fam.log"
  find "$dir" -type f -o -type l | xargs ls -ld >> "$out/$fam.log" 2>&1
  tar czf "$out/$fam.tgz" -C "$dir" .
  tail -3 "$out/$fam.log"
done
