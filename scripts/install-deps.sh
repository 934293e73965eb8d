#!/usr/bin/env bash
# Installs the Debian packages Molar's tests use: DCMTK (the real DICOM
# peer for interop tests and dcm2json cross-checks), dicom3tools (dciodvfy
# checks the Secondary Capture objects uploads become), python3-pydicom (its
# test files), Chromium (browser tests), Node.js and npm (the DICOMweb
# client end-to-end test). Used by `make test` and .ci/run.
# Idempotent: does nothing when everything is already installed.
set -euo pipefail

packages=(dcmtk dicom3tools python3-pydicom python3-numpy chromium nodejs)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# npm drives dicomweb-client (the DICOMweb client OHIF uses) in the
# DICOMweb end-to-end test. NodeSource's nodejs bundles npm and conflicts
# with Debian's npm package, so ask for npm only when there is none.
command -v npm >/dev/null || missing+=(npm)
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps: installing ${missing[*]}" >&2
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: need root or sudo to install ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
