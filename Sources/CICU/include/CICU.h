// CICU: stable C entry points into ICU for Swift.
// ICU's headers rename every function by macro (unorm2_normalize becomes unorm2_normalize_72), so Swift
// cannot call the documented names. These wrappers use only C integer and pointer types; only shim.c
// includes ICU headers. Link icuuc, icui18n and icudata.
#ifndef CICU_H
#define CICU_H
#include <stdint.h>
#include <stddef.h>

/// Normalization forms. NFKC_CF is ICU's "nfkc_cf" (NFKC_Casefold).
enum { CICU_NFC = 0, CICU_NFKC = 1, CICU_NFD = 2, CICU_NFKD = 3, CICU_NFKC_CF = 4 };

/// An opaque normalizer with its own scratch buffers; one per thread.
typedef struct CICU_Normalizer CICU_Normalizer;

/// Opens a normalizer for `form`; NULL on failure with *errorCode set (an ICU UErrorCode).
CICU_Normalizer *CICU_normalizerOpen(int32_t form, int32_t *errorCode);
void CICU_normalizerClose(CICU_Normalizer *normalizer);

/// Normalizes valid UTF-8 `src[0..<length]`. Returns 0 when the text is already normalized (nothing
/// written), 1 when *out/*outLength hold the normalized UTF-8 (owned by the normalizer, valid until the
/// next call), or -1 on an ICU error with *errorCode set.
int32_t CICU_normalizeUTF8(CICU_Normalizer *normalizer, const uint8_t *src, int64_t length,
                           const uint8_t **out, int64_t *outLength, int32_t *errorCode);

/// u_errorName for an ICU error code.
const char *CICU_errorName(int32_t errorCode);
/// The Unicode version of ICU's data, e.g. "15.0".
void CICU_unicodeVersion(char *buffer, int32_t capacity);
// Tokenization: general categories and regular expressions.
/// u_charType for every code point in [start, start+count): ICU's UCharCategory values (1 = Lu ... 29 = Pf).
void CICU_fillCharTypes(uint8_t *out, int32_t start, int32_t count);
/// An opaque ICU regular expression (uregex) over UTF-8 text; not thread-safe, clone one per thread.
typedef struct CICU_Regex CICU_Regex;
/// uregex_openUText over UTF-8; NULL on failure with *errorCode set and *errorOffset the pattern offset.
CICU_Regex *CICU_regexOpen(const uint8_t *pattern, int64_t length, int32_t *errorCode, int32_t *errorOffset);
/// uregex_clone: an independent copy for another thread.
CICU_Regex *CICU_regexClone(const CICU_Regex *regex, int32_t *errorCode);
void CICU_regexClose(CICU_Regex *regex);
/// Sets UTF-8 text (kept by reference until the next call); returns 0 or an ICU error code.
int32_t CICU_regexSetText(CICU_Regex *regex, const uint8_t *text, int64_t length);
/// uregex_findNext: 1 with the match's UTF-8 byte range, 0 when there is none, -1 with *errorCode set.
int32_t CICU_regexFindNext(CICU_Regex *regex, int64_t *start, int64_t *end, int32_t *errorCode);
#endif
