#!/usr/bin/env bash
# Builds parca-broker.charm: a zip Juju accepts, with the hooks' binary as `dispatch` and the
# service's binary as `parca-broker` (both 0755; see src/bin/dispatch.rs for why two).
# Usage: charm/build.sh [OUTPUT]   (default: ./parca-broker.charm)
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-parca-broker.charm}"

cargo build --release --locked --bin parca-broker --bin dispatch
# Honour CARGO_TARGET_DIR and build.target-dir: ask cargo where the binaries are.
target_dir=$(cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
binary="$target_dir/release/parca-broker"
dispatch="$target_dir/release/dispatch"

# The charm runs on Ubuntu 22.04 (glibc 2.35) and 24.04 (2.39): refuse a binary that needs more.
max_allowed="2.35"
for b in "$binary" "$dispatch"; do
    needed=$(objdump -T "$b" | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -V | tail -n 1)
    if [ "$(printf '%s\n%s\n' "$needed" "$max_allowed" | sort -V | tail -n 1)" != "$max_allowed" ]; then
        echo "charm/build.sh: $b needs GLIBC_$needed, newer than Ubuntu 22.04's $max_allowed" >&2
        exit 1
    fi
    echo "charm/build.sh: $(basename "$b"): highest GLIBC symbol version needed: $needed (Ubuntu 22.04 has $max_allowed)"
done

python3 - "$out" "$binary" "$dispatch" <<'PY'
import sys, zipfile
out, binary, dispatch = sys.argv[1], sys.argv[2], sys.argv[3]
files = [
    ("metadata.yaml", "metadata.yaml", 0o644),
    ("charm/manifest.yaml", "manifest.yaml", 0o644),
    ("charm/config.yaml", "config.yaml", 0o644),
    ("charm/actions.yaml", "actions.yaml", 0o644),
    ("README.md", "README.md", 0o644),
    # Built into dispatch too (what is published is what was tested); shipped for reading.
    ("charm/prometheus_alert_rules/parca-broker.rules", "prometheus_alert_rules/parca-broker.rules", 0o644),
    ("charm/grafana_dashboards/parca-broker.json", "grafana_dashboards/parca-broker.json", 0o644),
    (dispatch, "dispatch", 0o755),
    (binary, "parca-broker", 0o755),
]
with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
    for source, name, mode in files:
        info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
        info.create_system = 3  # Unix: Juju extracts files with exactly these mode bits
        info.external_attr = (0o100000 | mode) << 16
        info.compress_type = zipfile.ZIP_DEFLATED
        with open(source, "rb") as f:
            z.writestr(info, f.read())

# Check what Juju will read.
with zipfile.ZipFile(out) as z:
    names = z.namelist()
    for required in ("metadata.yaml", "manifest.yaml", "dispatch", "parca-broker"):
        assert required in names, f"{required} missing from {out}"
    assert all(not n.startswith("/") and ".." not in n.split("/") for n in names)
    for executable in ("dispatch", "parca-broker"):
        mode = (z.getinfo(executable).external_attr >> 16) & 0o777
        assert mode == 0o755, f"{executable} mode is {mode:o}"
    manifest = z.read("manifest.yaml").decode()
    assert "channel: '22.04'" in manifest and "channel: '24.04'" in manifest
print(f"charm/build.sh: wrote {out} ({', '.join(names)})")
PY
