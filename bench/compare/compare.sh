#!/usr/bin/env bash
# Runs compare.py with the system python, which has Debian's torch and numpy (the `python3`
# on PATH may be a pyenv interpreter without them). Arguments go to compare.py (--help).
set -euo pipefail
exec /usr/bin/python3 "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/compare.py" "$@"
