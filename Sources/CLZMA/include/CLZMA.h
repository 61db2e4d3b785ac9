// CLZMA: exposes liblzma (xz-utils) to Swift, for the xz baselines of the bits-per-byte report
// (Evaluation/Baselines.swift), run in-process as zstd's are instead of spawning the `xz` binary.
// The header is included as is; liblzma's functions have stable names, so no wrappers are needed. One
// constant is restated: LZMA_PRESET_EXTREME is a UINT32_C macro, which Swift cannot import.
#ifndef CLZMA_H
#define CLZMA_H
#include <lzma.h>
static const uint32_t CLZMA_PRESET_EXTREME = LZMA_PRESET_EXTREME;
#endif
