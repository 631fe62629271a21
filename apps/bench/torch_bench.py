"""PyTorch CPU baseline for lat's benchmarks: the same BERT encoder shape (post-LN, GELU, a
classification head), the same threads. Prints one JSON object. Used only by `pnpm bench`.

With `"serve": true` it trains one job a step at a time for the training table, so lat and
PyTorch steps can alternate under the same load: after a warm-up step it prints `{"ready": true}`,
then answers each line on stdin — `step` (one fwd + bwd + AdamW step), `gemm` (the FFN's MatMul
shape at one thread in CPU time, for the roofline), `exit` (peak RSS) — with one JSON line."""
import json
import resource
import sys
import time

import torch
from torch import nn

args = json.loads(sys.argv[1])
torch.set_num_threads(args["threads"])
torch.manual_seed(0)


class Bert(nn.Module):
    def __init__(self, vocab, d, layers, heads, f, labels=2):
        super().__init__()
        self.word = nn.Embedding(vocab, d)
        self.pos = nn.Embedding(512, d)
        self.typ = nn.Embedding(2, d)
        self.norm = nn.LayerNorm(d, eps=1e-12)
        layer = nn.TransformerEncoderLayer(d, heads, f, dropout=0.1, activation="gelu", batch_first=True, norm_first=False)
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.pool = nn.Linear(d, d)
        self.cls = nn.Linear(d, labels)

    def forward(self, ids):
        n = ids.shape[1]
        x = self.word(ids) + self.pos(torch.arange(n)) + self.typ(torch.zeros_like(ids))
        h = self.encoder(self.norm(x))
        return self.cls(torch.tanh(self.pool(h[:, 0])))


def median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2]


def trainer(job):
    """The model, AdamW and a batch of one training job; returns one timed step's function."""
    model = Bert(30522, job["hidden"], job["layers"], job["heads"], job["ffn"])
    model.train()
    ids = torch.randint(5, 30000, (job["batch"], job["seq"]))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.01)
    labels = torch.randint(0, 2, (job["batch"],))
    loss_fn = nn.CrossEntropyLoss()

    def step():
        """One fwd + bwd + AdamW step: (total s, fwd + bwd ms, CPU ms of every thread)."""
        t = time.perf_counter()
        cpu = time.process_time()
        loss = loss_fn(model(ids), labels)
        loss.backward()
        t_fb = time.perf_counter()
        opt.step()
        opt.zero_grad()
        return time.perf_counter() - t, (t_fb - t) * 1000, (time.process_time() - cpu) * 1000

    return step


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def serve(job):
    step = trainer(job)
    step()  # the first step allocates optimizer state
    a = torch.rand(job["batch"] * job["seq"], job["hidden"])
    b = torch.rand(job["hidden"], job["ffn"])
    print(json.dumps({"ready": True, "torch": torch.__version__}), flush=True)
    for line in sys.stdin:
        cmd = line.strip()
        if cmd == "step":
            secs, fb, cpu = step()
            reply = {"ms": secs * 1000, "fwdBwdMs": fb, "cpuMs": cpu}
        elif cmd == "gemm":
            # One thread, CPU time: GFLOP per CPU-second, the per-core MatMul peak.
            torch.set_num_threads(1)
            best = float("inf")
            for _ in range(3):
                t = time.process_time()
                torch.mm(a, b)
                best = min(best, time.process_time() - t)
            torch.set_num_threads(args["threads"])
            reply = {"gflops": 2 * a.shape[0] * a.shape[1] * b.shape[1] / best / 1e9}
        else:
            print(json.dumps({"peakRssMB": peak_rss_mb()}), flush=True)
            return
        print(json.dumps(reply), flush=True)


if args.get("serve"):
    serve(args["jobs"][0])
    sys.exit(0)

out = {"torch": torch.__version__, "openblas": "openblas" in open("/proc/self/maps").read()}
for job in args["jobs"]:
    if job["kind"] == "infer":
        model = Bert(30522, job["hidden"], job["layers"], job["heads"], job["ffn"])
        ids = torch.randint(5, 30000, (job["batch"], job["seq"]))
        model.eval()
        with torch.inference_mode():
            for _ in range(2):
                model(ids)
            times = []
            for _ in range(job["runs"]):
                t = time.perf_counter()
                model(ids)
                times.append((time.perf_counter() - t) * 1000)
        out[job["name"]] = {"ms": median(times)}
    else:
        step = trainer(job)
        times, fb = [], []
        for i in range(job["runs"] + 1):
            secs, fb_ms, _ = step()
            if i:  # the first step allocates optimizer state
                times.append(secs)
                fb.append(fb_ms)
        tokens = job["batch"] * job["seq"]
        out[job["name"]] = {"tokensPerSec": tokens / median(times), "fwdBwdMs": median(fb)}
out["peakRssMB"] = peak_rss_mb()
print(json.dumps(out))
