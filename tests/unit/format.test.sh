#!/usr/bin/env bash
# Every tracked C source is formatted as .clang-format says.
exec bash "$(dirname "$0")/../../scripts/format-check.sh"
