#!/usr/bin/env bash
# Runs the whole LynxStore test suite. Installs what the tests need first
# (psql from postgresql-client, openssl, prometheus, pyarrow, duckdb), so it works on a fresh Debian machine.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v psql >/dev/null 2>&1 || need_apt+=(postgresql-client)
command -v openssl >/dev/null 2>&1 || need_apt+=(openssl)   # TLS test makes a certificate
[ -x /usr/bin/prometheus ] || need_apt+=(prometheus)         # remote write/read e2e test
python3 -c 'import pyarrow, duckdb' >/dev/null 2>&1 || python3 -m pip --version >/dev/null 2>&1 \
  || need_apt+=(python3-pip)   # pip installs pyarrow and duckdb below
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "installing: ${need_apt[*]}"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

# The Parquet tests write their input files with pyarrow and DuckDB.
for module in pyarrow duckdb; do
  if ! python3 -c "import $module" >/dev/null 2>&1; then
    echo "installing: $module (pip)"
    python3 -m pip install --quiet "$module" 2>/dev/null \
      || python3 -m pip install --quiet --break-system-packages "$module"
  fi
done

if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --no-fail-fast "$@"
else
  cargo test --workspace --no-fail-fast "$@"
fi
