// Float row kernels of the trainer's element-wise hot loops, in C so that one build carries an AVX2+FMA
// version next to the baseline x86-64 one and picks at run time (Swift has no per-function target
// features). See kernels.c.
// `variant`: -1 picks by the CPU (what the trainer passes), 0 the baseline version, 1 the AVX2+FMA one
// when the CPU has it (else the baseline); the tests run both.
#ifndef TOKENMILL_CKERNELS_H
#define TOKENMILL_CKERNELS_H
#include <stddef.h>

/// y[j] = e^(x[j]).
void tm_exp(const float *x, float *y, size_t n, int variant);
/// row[j] = e^(row[j] − max) for j < n; writes the max and the sum of the new values (n ≥ 1).
void tm_exp_shifted(float *row, size_t n, float *max_out, float *sum_out, int variant);
/// row[j] *= s.
void tm_scale(float *row, size_t n, float s, int variant);
/// o = silu(g)·u.
void tm_swiglu_forward(float *o, const float *g, const float *u, size_t n, int variant);
/// dg += dh·u·σ(g)(1 + g(1 − σ(g))), du += dh·g·σ(g).
void tm_swiglu_backward(float *dg, float *du, const float *dh, const float *g, const float *u, size_t n, int variant);
/// One AdamW step over n elements: g = grad·scale; m = b1·m + (1 − b1)·g; v = b2·v + (1 − b2)·g²;
/// p −= rate·(m/c1)/(√(v/c2) + eps) + decay·p.
void tm_adamw(float *p, const float *grad, float *m, float *v, size_t n, float scale, float b1, float b2,
              float c1, float c2, float eps, float rate, float decay, int variant);
/// E4M3 quantization of n values: y = x/scale (scale[0], or scale[j] when per_element) rounded to E4M3
/// (nearest even, saturating at ±448); out[j] = y·scale, codes[j] = its code (when codes is not NULL);
/// stats[0..3] += squared error, squared values, saturated and underflowed counts.
void tm_e4m3_quantize(const float *x, size_t n, const float *scale, int per_element, float *out, unsigned char *codes,
                      double *stats, int variant);
/// amax[j] = max(amax[j], |row[j]|).
void tm_absmax_cols(float *amax, const float *row, size_t n, int variant);
/// 1 when this CPU runs the AVX2+FMA versions.
int tm_kernels_avx2(void);

#endif
