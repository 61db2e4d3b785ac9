// Float row kernels (declared in CKernels.h). Each body is written once over 8-lane vectors (clang's
// vector extensions) and compiled twice: for baseline x86-64 (pairs of SSE instructions) and with
// AVX2+FMA; `pick_variant` chooses once at load time, from the CPU's feature bits. On other
// architectures only the baseline version exists.
// e^x: x clamped to [−87.3, 88.7], n = round(x·log2 e), r = x − n·ln2 (two-part ln2), a degree-6
// polynomial for e^r (Cephes expf's coefficients), times 2^n built in the exponent bits; below −87.3
// it gives 0 and above 88.7 +inf. Within 2 ulp of expf over the clamped range (VectorMathTests).
// Policy: lanes are summed in a fixed order and a row's result depends only on the row.
// Performance notes (AMD EPYC, bench-train model, perf samples): the same kernels in Swift SIMD (baseline
// SSE) took 6.3% of a step, these 3.5%; the head's exp + scale of a 32 MB block runs ~1.35 ns a
// logit on one core, ~0.9 with the row in L2.
#include "CKernels.h"
#include <math.h>
#include <stdint.h>
#include <string.h>

// The 8-lane helpers below are always inlined into a variant, so their AVX ABI never shows.
#pragma clang diagnostic ignored "-Wpsabi"

typedef float v8f __attribute__((vector_size(32)));
typedef int32_t v8i __attribute__((vector_size(32)));

#define ALWAYS static inline __attribute__((always_inline))

ALWAYS v8f load8(const float *p) { v8f v; memcpy(&v, p, sizeof v); return v; }
ALWAYS void store8(float *p, v8f v) { memcpy(p, &v, sizeof v); }
ALWAYS v8f splat(float x) { return (v8f){x, x, x, x, x, x, x, x}; }
ALWAYS v8f select8(v8i mask, v8f a, v8f b) {   // mask lanes are all ones or zero
    return (v8f)((mask & (v8i)a) | (~mask & (v8i)b));
}

ALWAYS v8f exp8(v8f x) {
    const v8f low = splat(-87.3f), high = splat(88.7f), magic = splat(12582912.0f);   // 1.5·2^23
    v8f c = select8(x < low, low, x);
    c = select8(c > high, high, c);
    v8f shifted = c * splat(1.44269504f) + magic;
    v8f n = shifted - magic;
    v8f r = (c - n * splat(0.693359375f)) - n * splat(-2.12194440e-4f);
    v8f p = splat(1.9875691500e-4f);
    p = p * r + splat(1.3981999507e-3f);
    p = p * r + splat(8.3334519073e-3f);
    p = p * r + splat(4.1665795894e-2f);
    p = p * r + splat(1.6666665459e-1f);
    p = p * r + splat(5.0000001201e-1f);
    p = p * (r * r) + r + splat(1.0f);
    v8i bits = (v8i)shifted - (v8i)magic;
    v8f scale = (v8f)((bits + 127) << 23);
    v8f y = p * scale;
    y = select8(x < low, splat(0.0f), y);
    return select8(x > high, splat(INFINITY), y);
}

ALWAYS float sum8(v8f v) {
    return ((v[0] + v[1]) + (v[2] + v[3])) + ((v[4] + v[5]) + (v[6] + v[7]));
}

ALWAYS float exp1(float x) { v8f v = exp8(splat(x)); return v[0]; }

ALWAYS void exp_shifted_body(float *row, size_t n, float *max_out, float *sum_out) {
    size_t whole = n - n % 16, j;
    float mx = -INFINITY;
    if (whole > 0) {
        v8f m0 = load8(row), m1 = load8(row + 8);
        for (j = 16; j < whole; j += 16) {
            v8f a = load8(row + j), b = load8(row + j + 8);
            m0 = select8(a > m0, a, m0);
            m1 = select8(b > m1, b, m1);
        }
        m0 = select8(m1 > m0, m1, m0);
        for (int k = 0; k < 8; k++) mx = m0[k] > mx ? m0[k] : mx;
    }
    for (j = whole; j < n; j++) mx = row[j] > mx ? row[j] : mx;
    v8f shift = splat(mx), acc0 = splat(0), acc1 = splat(0);
    for (j = 0; j < whole; j += 16) {
        v8f a = exp8(load8(row + j) - shift), b = exp8(load8(row + j + 8) - shift);
        store8(row + j, a); store8(row + j + 8, b);
        acc0 += a; acc1 += b;
    }
    float sum = sum8(acc0 + acc1);
    for (j = whole; j < n; j++) { float e = exp1(row[j] - mx); row[j] = e; sum += e; }
    *max_out = mx; *sum_out = sum;
}

ALWAYS void exp_body(const float *x, float *y, size_t n) {
    size_t whole = n - n % 8, j;
    for (j = 0; j < whole; j += 8) store8(y + j, exp8(load8(x + j)));
    for (j = whole; j < n; j++) y[j] = exp1(x[j]);
}

ALWAYS void scale_body(float *row, size_t n, float s) {
    size_t whole = n - n % 8, j;
    v8f sv = splat(s);
    for (j = 0; j < whole; j += 8) store8(row + j, load8(row + j) * sv);
    for (j = whole; j < n; j++) row[j] *= s;
}

ALWAYS v8f sigmoid8(v8f x) { return splat(1.0f) / (splat(1.0f) + exp8(-x)); }

ALWAYS void swiglu_forward_body(float *o, const float *g, const float *u, size_t n) {
    size_t whole = n - n % 8, j;
    for (j = 0; j < whole; j += 8) { v8f x = load8(g + j); store8(o + j, x * sigmoid8(x) * load8(u + j)); }
    for (j = whole; j < n; j++) { float x = g[j]; o[j] = x / (1.0f + exp1(-x)) * u[j]; }
}

ALWAYS void swiglu_backward_body(float *dg, float *du, const float *dh, const float *g, const float *u, size_t n) {
    size_t whole = n - n % 8, j;
    for (j = 0; j < whole; j += 8) {
        v8f x = load8(g + j), d = load8(dh + j), s = sigmoid8(x);
        store8(dg + j, load8(dg + j) + d * load8(u + j) * s * (splat(1.0f) + x * (splat(1.0f) - s)));
        store8(du + j, load8(du + j) + d * x * s);
    }
    for (j = whole; j < n; j++) {
        float x = g[j], s = 1.0f / (1.0f + exp1(-x));
        dg[j] += dh[j] * u[j] * s * (1.0f + x * (1.0f - s));
        du[j] += dh[j] * x * s;
    }
}

ALWAYS void adamw8(float *p, const float *grad, float *m, float *v, float scale, float b1, float b2, float c1,
                   float c2, float eps, float rate, float decay) {
    v8f g = load8(grad) * splat(scale);
    v8f mi = splat(b1) * load8(m) + splat(1 - b1) * g;
    v8f vi = splat(b2) * load8(v) + splat(1 - b2) * g * g;
    store8(m, mi); store8(v, vi);
    v8f root = __builtin_elementwise_sqrt(vi / splat(c2));
    v8f pj = load8(p);
    store8(p, pj - (splat(rate) * ((mi / splat(c1)) / (root + splat(eps))) + splat(decay) * pj));
}

// The tail goes through the same 8-lane code (padded with zeros), so an element's result does not depend
// on where a range starts: the trainer splits tensors over the cores.
ALWAYS void adamw_body(float *p, const float *grad, float *m, float *v, size_t n, float scale, float b1, float b2,
                       float c1, float c2, float eps, float rate, float decay) {
    size_t whole = n - n % 8, j;
    for (j = 0; j < whole; j += 8) adamw8(p + j, grad + j, m + j, v + j, scale, b1, b2, c1, c2, eps, rate, decay);
    if (whole < n) {
        size_t rest = n - whole;
        float tp[8] = {0}, tg[8] = {0}, tm[8] = {0}, tv[8] = {0};
        memcpy(tp, p + whole, rest * 4); memcpy(tg, grad + whole, rest * 4);
        memcpy(tm, m + whole, rest * 4); memcpy(tv, v + whole, rest * 4);
        adamw8(tp, tg, tm, tv, scale, b1, b2, c1, c2, eps, rate, decay);
        memcpy(p + whole, tp, rest * 4); memcpy(m + whole, tm, rest * 4); memcpy(v + whole, tv, rest * 4);
    }
}

// E4M3 quantization (the FP8 trainer's tiles, Training/FP8Linear.swift): y = x/scale rounded to 3
// mantissa bits (nearest even) above 2^-6, to multiples of 2^-9 below it (subnormals), clamped to 448.
// Equal to FP8Format.e4m3.encode(x/scale, saturate: true) for finite x (FP8TrainingTests compares).
ALWAYS void e4m3_quantize_body(const float *x, size_t n, const float *scale, int per_element, float *out,
                               uint8_t *codes, double *stats) {
    v8f sse = splat(0), ss = splat(0);
    v8i saturated = {0}, underflowed = {0};
    const v8i magnitude = (v8i){0x7fffffff, 0x7fffffff, 0x7fffffff, 0x7fffffff, 0x7fffffff, 0x7fffffff, 0x7fffffff, 0x7fffffff};
    for (size_t j = 0; j < n; j += 8) {
        size_t rest = n - j < 8 ? n - j : 8;
        float tx[8] = {0}, ts[8] = {1, 1, 1, 1, 1, 1, 1, 1};
        memcpy(tx, x + j, rest * 4);
        if (per_element) memcpy(ts, scale + j, rest * 4);
        v8f xv = load8(tx), sv = per_element ? load8(ts) : splat(scale[0]);
        v8f y = xv / sv;
        v8i sign = (v8i)y & ~magnitude;
        v8f a = (v8f)((v8i)y & magnitude);
        v8i bits = (v8i)a;
        v8f normal = (v8f)((bits + 0x7ffff + ((bits >> 20) & 1)) & (~(v8i){0} << 20));   // keep sign, exponent, 3 bits
        v8f sub = (a + splat(24576.0f)) - splat(24576.0f);   // 1.5·2^14: its ulp is 2^-9
        v8f r = select8(a < splat(0x1p-6f), sub, normal);
        r = select8(r > splat(448.0f), splat(448.0f), r);
        v8f d = (v8f)((v8i)r | sign) * sv;
        v8f e = xv - d;
        sse += e * e; ss += xv * xv;
        saturated -= (v8i)(a > splat(448.0f));
        underflowed -= (v8i)((r == splat(0.0f)) & (xv != splat(0.0f)));
        float td[8];
        store8(td, d);
        memcpy(out + j, td, rest * 4);
        if (codes) {
            v8i normal_code = ((v8i)r >> 20) - (120 << 3);
            v8i sub_code = __builtin_convertvector(r * splat(512.0f), v8i);
            v8i code = (v8i)select8((v8i)(r < splat(0x1p-6f)), (v8f)sub_code, (v8f)normal_code) | ((sign != 0) & 0x80);
            for (size_t k = 0; k < rest; k++) codes[j + k] = (uint8_t)code[k];
        }
    }
    for (int k = 0; k < 8; k++) {
        stats[0] += sse[k]; stats[1] += ss[k]; stats[2] += saturated[k]; stats[3] += underflowed[k];
    }
}

ALWAYS void absmax_cols_body(float *amax, const float *row, size_t n) {
    size_t whole = n - n % 8, j;
    for (j = 0; j < whole; j += 8) {
        v8f a = load8(amax + j), x = load8(row + j);
        x = select8(x < splat(0.0f), -x, x);
        store8(amax + j, select8(x > a, x, a));
    }
    for (j = whole; j < n; j++) { float x = fabsf(row[j]); if (x > amax[j]) amax[j] = x; }
}

#define VARIANTS(name, params, args)                                             \
    static void name##_base params { name##_body args; }                         \
    AVX2_VARIANT(name, params, args)

#if defined(__x86_64__)
#define AVX2_VARIANT(name, params, args) \
    __attribute__((target("avx2,fma"))) static void name##_avx2 params { name##_body args; }
#else
#define AVX2_VARIANT(name, params, args)
#endif

VARIANTS(exp, (const float *x, float *y, size_t n), (x, y, n))
VARIANTS(adamw, (float *p, const float *grad, float *m, float *v, size_t n, float scale, float b1, float b2, float c1,
                 float c2, float eps, float rate, float decay),
         (p, grad, m, v, n, scale, b1, b2, c1, c2, eps, rate, decay))
VARIANTS(exp_shifted, (float *row, size_t n, float *max_out, float *sum_out), (row, n, max_out, sum_out))
VARIANTS(scale, (float *row, size_t n, float s), (row, n, s))
VARIANTS(swiglu_forward, (float *o, const float *g, const float *u, size_t n), (o, g, u, n))
VARIANTS(swiglu_backward, (float *dg, float *du, const float *dh, const float *g, const float *u, size_t n),
         (dg, du, dh, g, u, n))
VARIANTS(e4m3_quantize, (const float *x, size_t n, const float *scale, int per_element, float *out, uint8_t *codes,
                         double *stats), (x, n, scale, per_element, out, codes, stats))
VARIANTS(absmax_cols, (float *amax, const float *row, size_t n), (amax, row, n))

static int avx2;

// Decided once, when the library is loaded (before any thread can call a kernel).
__attribute__((constructor)) static void pick_variant(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    avx2 = 0;
#endif
}

int tm_kernels_avx2(void) { return avx2; }

#if defined(__x86_64__)
#define DISPATCH(name, args) if (variant != 0 && avx2) name##_avx2 args; else name##_base args
#else
#define DISPATCH(name, args) (void)variant; name##_base args
#endif

void tm_exp(const float *x, float *y, size_t n, int variant) { DISPATCH(exp, (x, y, n)); }
void tm_exp_shifted(float *row, size_t n, float *max_out, float *sum_out, int variant) {
    DISPATCH(exp_shifted, (row, n, max_out, sum_out));
}
void tm_scale(float *row, size_t n, float s, int variant) { DISPATCH(scale, (row, n, s)); }
void tm_swiglu_forward(float *o, const float *g, const float *u, size_t n, int variant) {
    DISPATCH(swiglu_forward, (o, g, u, n));
}
void tm_swiglu_backward(float *dg, float *du, const float *dh, const float *g, const float *u, size_t n, int variant) {
    DISPATCH(swiglu_backward, (dg, du, dh, g, u, n));
}
void tm_adamw(float *p, const float *grad, float *m, float *v, size_t n, float scale, float b1, float b2,
              float c1, float c2, float eps, float rate, float decay, int variant) {
    DISPATCH(adamw, (p, grad, m, v, n, scale, b1, b2, c1, c2, eps, rate, decay));
}
void tm_e4m3_quantize(const float *x, size_t n, const float *scale, int per_element, float *out, uint8_t *codes,
                      double *stats, int variant) {
    DISPATCH(e4m3_quantize, (x, n, scale, per_element, out, codes, stats));
}
void tm_absmax_cols(float *amax, const float *row, size_t n, int variant) { DISPATCH(absmax_cols, (amax, row, n)); }
