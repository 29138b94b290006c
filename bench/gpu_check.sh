#!/usr/bin/env bash
# The one-GPU check (issue 17): v2-large LeLM RTF and peak memory (batch 1 and 8, KV cache vs none), renderer
# and Oobleck decode RTF, htdemucs and faster-whisper large-v3 x-realtime; one table. Budget: 8 minutes on one
# H100/H200 (the timeout below stops it at 7.5). Run from the repository root:
#
#     bench/gpu_check.sh [TABLE.md]          # default table: ${OUT:-bench}/gpu_check.md
#     GPU_CHECK_DRY=1 bench/gpu_check.sh     # CPU dry run with tiny sizes (checks the script, not a speed)
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-.venv/bin/python}"
[ -x "$PYTHON" ] || PYTHON=python3
table="${1:-${OUT:-bench}/gpu_check.md}"
args=(--out "$table")
[ "${GPU_CHECK_DRY:-0}" = 1 ] && args+=(--dry-run)
# no network on a lent device: libraries that look for weights on the hub must not wait on retries
export HF_HUB_OFFLINE="${HF_HUB_OFFLINE:-1}" TRANSFORMERS_OFFLINE="${TRANSFORMERS_OFFLINE:-1}" SONGPREP_OFFLINE="${SONGPREP_OFFLINE:-1}"
exec timeout 450 "$PYTHON" bench/gpu_check.py "${args[@]}"
