// CZstd: exposes libzstd's streaming API to Swift.
// The header is included as is; zstd's functions have stable names, so no wrappers are needed.
#ifndef CZSTD_H
#define CZSTD_H
#include <zstd.h>
#include <zstd_errors.h>
#endif
