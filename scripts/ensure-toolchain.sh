#!/usr/bin/env bash
# Makes the toolchain pinned in rust-toolchain.toml available without a
# download when the machine's `stable` already is that version (rustup would
# otherwise try to fetch it by its number). Harmless everywhere else.
set -euo pipefail
cd "$(dirname "$0")/.."
pinned=$(sed -n 's/^channel *= *"\(.*\)"/\1/p' rust-toolchain.toml)
command -v rustup >/dev/null 2>&1 || exit 0
if rustup toolchain list | grep -q "^${pinned}-"; then
  exit 0
fi
stable_version=$(RUSTUP_TOOLCHAIN=stable rustc --version 2>/dev/null | awk '{print $2}')
if [ "$stable_version" = "$pinned" ]; then
  rustup toolchain link "$pinned" "$(RUSTUP_TOOLCHAIN=stable rustc --print sysroot)"
  echo "linked the machine's stable toolchain as $pinned"
else
  echo "note: rust-toolchain.toml pins $pinned; rustup will install it (stable here is ${stable_version:-missing})" >&2
fi
