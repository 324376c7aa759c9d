#!/usr/bin/env bash
# Set up a fresh Debian 12 machine for chunkwise: system packages (only when missing) and a
# release build of the whole workspace. Safe to run again: it does nothing that is already done.
set -euo pipefail
cd "$(dirname "$0")/.."

# Open MPI and the parallel HDF5 build (the MPI engine and the hdf5 backend link them);
# hdf5-tools for h5dump in the interop tests; libclang for mpi-sys' bindgen; DejaVu for plot labels.
packages=(libopenmpi-dev openmpi-bin libhdf5-openmpi-dev hdf5-tools libclang-dev pkg-config fonts-dejavu-core python3-venv bsdutils)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq >/dev/null
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Make the HDF5 flavour explicit so hdf5-metno-sys always links the same library.
export HDF5_DIR=${HDF5_DIR:-/usr/lib/x86_64-linux-gnu/hdf5/openmpi}
cargo build --release --workspace --quiet

# Shell completions and man pages of the chunkwise command, for the current user (generated
# from the command's own definitions, so they match the build).
share=${XDG_DATA_HOME:-$HOME/.local/share}
mkdir -p "$share/bash-completion/completions" "$share/zsh/site-functions" "$share/man/man1" \
  "${XDG_CONFIG_HOME:-$HOME/.config}/fish/completions"
target/release/chunkwise completions bash >"$share/bash-completion/completions/chunkwise"
target/release/chunkwise completions zsh >"$share/zsh/site-functions/_chunkwise"
target/release/chunkwise completions fish >"${XDG_CONFIG_HOME:-$HOME/.config}/fish/completions/chunkwise.fish"
target/release/chunkwise man "$share/man/man1" >/dev/null
