// The only file that includes ICU headers; see CICU.h for why.
#include "CICU.h"
#include <stdlib.h>
#include <string.h>
#include <unicode/uchar.h>
#include <unicode/unorm2.h>
#include <unicode/ustring.h>
#include <unicode/utypes.h>
#include <unicode/uregex.h>
#include <unicode/utext.h>

struct CICU_Normalizer {
    const UNormalizer2 *norm;
    UChar *utf16; int64_t utf16Cap;     // input as UTF-16
    UChar *normed; int64_t normedCap;   // normalized UTF-16
    uint8_t *utf8; int64_t utf8Cap;     // normalized UTF-8 (returned to the caller)
};

static int grow(void **buf, int64_t *cap, int64_t need, size_t unit) {
    if (*cap >= need) return 1;
    int64_t n = need + need / 2 + 64;
    void *p = realloc(*buf, (size_t)n * unit);
    if (!p) return 0;
    *buf = p; *cap = n;
    return 1;
}

CICU_Normalizer *CICU_normalizerOpen(int32_t form, int32_t *errorCode) {
    UErrorCode status = U_ZERO_ERROR;
    const UNormalizer2 *n = NULL;
    switch (form) {
    case CICU_NFC: n = unorm2_getNFCInstance(&status); break;
    case CICU_NFKC: n = unorm2_getNFKCInstance(&status); break;
    case CICU_NFD: n = unorm2_getNFDInstance(&status); break;
    case CICU_NFKD: n = unorm2_getNFKDInstance(&status); break;
    case CICU_NFKC_CF: n = unorm2_getNFKCCasefoldInstance(&status); break;
    default: status = U_ILLEGAL_ARGUMENT_ERROR;
    }
    if (U_FAILURE(status)) { *errorCode = status; return NULL; }
    CICU_Normalizer *r = calloc(1, sizeof *r);
    if (!r) { *errorCode = U_MEMORY_ALLOCATION_ERROR; return NULL; }
    r->norm = n;
    *errorCode = 0;
    return r;
}

void CICU_normalizerClose(CICU_Normalizer *r) {
    if (!r) return;
    free(r->utf16); free(r->normed); free(r->utf8); free(r);
}

int32_t CICU_normalizeUTF8(CICU_Normalizer *r, const uint8_t *src, int64_t length,
                           const uint8_t **out, int64_t *outLength, int32_t *errorCode) {
    UErrorCode status = U_ZERO_ERROR;
    *errorCode = 0;
    if (length > INT32_MAX / 4) { *errorCode = U_INDEX_OUTOFBOUNDS_ERROR; return -1; }
    // 1. UTF-8 → UTF-16 (at most one UTF-16 unit per UTF-8 byte).
    if (!grow((void **)&r->utf16, &r->utf16Cap, length + 1, sizeof(UChar))) { *errorCode = U_MEMORY_ALLOCATION_ERROR; return -1; }
    int32_t len16 = 0;
    u_strFromUTF8(r->utf16, (int32_t)r->utf16Cap, &len16, (const char *)src, (int32_t)length, &status);
    if (U_FAILURE(status)) { *errorCode = status; return -1; }
    // 2. Quick check: the longest prefix that is surely normalized. All of it means nothing to do.
    int32_t span = unorm2_spanQuickCheckYes(r->norm, r->utf16, len16, &status);
    if (U_FAILURE(status)) { *errorCode = status; return -1; }
    if (span == len16) return 0;
    // 3. Normalize, growing the buffer when ICU says it overflowed.
    int32_t lenN = 0;
    for (;;) {
        status = U_ZERO_ERROR;
        if (!grow((void **)&r->normed, &r->normedCap, (int64_t)len16 + len16 / 4 + 16, sizeof(UChar))) { *errorCode = U_MEMORY_ALLOCATION_ERROR; return -1; }
        lenN = unorm2_normalize(r->norm, r->utf16, len16, r->normed, (int32_t)r->normedCap, &status);
        if (status == U_BUFFER_OVERFLOW_ERROR) {
            if (!grow((void **)&r->normed, &r->normedCap, (int64_t)lenN + 1, sizeof(UChar))) { *errorCode = U_MEMORY_ALLOCATION_ERROR; return -1; }
            continue;
        }
        if (U_FAILURE(status)) { *errorCode = status; return -1; }
        break;
    }
    // 4. UTF-16 → UTF-8 (at most three bytes per unit).
    if (!grow((void **)&r->utf8, &r->utf8Cap, (int64_t)lenN * 3 + 1, 1)) { *errorCode = U_MEMORY_ALLOCATION_ERROR; return -1; }
    int32_t len8 = 0;
    status = U_ZERO_ERROR;
    u_strToUTF8((char *)r->utf8, (int32_t)r->utf8Cap, &len8, r->normed, lenN, &status);
    if (U_FAILURE(status)) { *errorCode = status; return -1; }
    *out = r->utf8;
    *outLength = len8;
    return 1;
}

const char *CICU_errorName(int32_t errorCode) { return u_errorName((UErrorCode)errorCode); }

void CICU_unicodeVersion(char *buffer, int32_t capacity) {
    UVersionInfo v;
    u_getUnicodeVersion(v);
    if (capacity < U_MAX_VERSION_STRING_LENGTH) { if (capacity > 0) buffer[0] = 0; return; }
    u_versionToString(v, buffer);
}

// MARK: Tokenization

void CICU_fillCharTypes(uint8_t *out, int32_t start, int32_t count) {
    for (int32_t i = 0; i < count; i++) out[i] = (uint8_t)u_charType((UChar32)(start + i));
}

struct CICU_Regex {
    URegularExpression *re;
    UText *text;
};

CICU_Regex *CICU_regexOpen(const uint8_t *pattern, int64_t length, int32_t *errorCode, int32_t *errorOffset) {
    UErrorCode status = U_ZERO_ERROR;
    UParseError pe;
    memset(&pe, 0, sizeof pe);
    *errorOffset = -1;
    if (length > INT32_MAX) { *errorCode = U_INDEX_OUTOFBOUNDS_ERROR; return NULL; }
    UText *ut = utext_openUTF8(NULL, (const char *)pattern, length, &status);
    if (U_FAILURE(status)) { *errorCode = status; return NULL; }
    URegularExpression *re = uregex_openUText(ut, 0, &pe, &status);
    utext_close(ut);
    if (U_FAILURE(status)) { *errorCode = status; *errorOffset = pe.offset; return NULL; }
    CICU_Regex *r = calloc(1, sizeof *r);
    if (!r) { uregex_close(re); *errorCode = U_MEMORY_ALLOCATION_ERROR; return NULL; }
    r->re = re;
    *errorCode = 0;
    return r;
}

CICU_Regex *CICU_regexClone(const CICU_Regex *regex, int32_t *errorCode) {
    UErrorCode status = U_ZERO_ERROR;
    URegularExpression *re = uregex_clone(regex->re, &status);
    if (U_FAILURE(status)) { *errorCode = status; return NULL; }
    CICU_Regex *r = calloc(1, sizeof *r);
    if (!r) { uregex_close(re); *errorCode = U_MEMORY_ALLOCATION_ERROR; return NULL; }
    r->re = re;
    *errorCode = 0;
    return r;
}

void CICU_regexClose(CICU_Regex *regex) {
    if (!regex) return;
    uregex_close(regex->re);
    if (regex->text) utext_close(regex->text);
    free(regex);
}

int32_t CICU_regexSetText(CICU_Regex *regex, const uint8_t *text, int64_t length) {
    UErrorCode status = U_ZERO_ERROR;
    static const uint8_t empty[1] = {0};
    regex->text = utext_openUTF8(regex->text, (const char *)(text ? text : empty), length, &status);
    if (U_FAILURE(status)) return status;
    uregex_setUText(regex->re, regex->text, &status);
    return U_FAILURE(status) ? status : 0;
}

int32_t CICU_regexFindNext(CICU_Regex *regex, int64_t *start, int64_t *end, int32_t *errorCode) {
    UErrorCode status = U_ZERO_ERROR;
    *errorCode = 0;
    UBool found = uregex_findNext(regex->re, &status);
    if (U_FAILURE(status)) { *errorCode = status; return -1; }
    if (!found) return 0;
    *start = uregex_start64(regex->re, 0, &status);
    *end = uregex_end64(regex->re, 0, &status);
    if (U_FAILURE(status)) { *errorCode = status; return -1; }
    return 1;
}
