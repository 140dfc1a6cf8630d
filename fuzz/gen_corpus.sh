#!/usr/bin/env bash
# Regenerate the committed seed corpora (fuzz/corpus/fuzz_wire, fuzz_stack)
# from fuzz/gen_corpus.c. Run from the repository root.
set -euo pipefail
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p fuzz/corpus/fuzz_wire fuzz/corpus/fuzz_stack
${CC:-cc} -std=gnu11 -Wall -Wextra -Werror -Isrc -Iinclude fuzz/gen_corpus.c src/wire/*.c \
  -o "$tmp/gen_corpus"
"$tmp/gen_corpus" fuzz/corpus
ls fuzz/corpus/fuzz_wire fuzz/corpus/fuzz_stack
