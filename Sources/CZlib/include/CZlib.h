// CZlib: zlib's inflate for .gz inputs.
// zlib's init functions are macros (inflateInit2 expands to inflateInit2_ with version and struct size),
// which Swift cannot call, so they get a plain C wrapper here.
#ifndef CZLIB_H
#define CZLIB_H
#include <zlib.h>

/// inflateInit2 with `windowBits` as zlib documents it (15 + 16 accepts gzip only, 15 + 32 auto-detects).
int CZlib_inflateInit2(z_stream *stream, int windowBits);
#endif
