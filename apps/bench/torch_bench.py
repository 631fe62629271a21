"""PyTorch CPU baseline for lat's benchmarks: the same BERT encoder shape (post-LN, GELU, a
classification head), the same threads. Prints one JSON object. Used only by `pnpm bench`."""
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


out = {"torch": torch.__version__, "openblas": "openblas" in open("/proc/self/maps").read()}
for job in args["jobs"]:
    d, layers, heads, f = job["hidden"], job["layers"], job["heads"], job["ffn"]
    model = Bert(30522, d, layers, heads, f)
    ids = torch.randint(5, 30000, (job["batch"], job["seq"]))
    if job["kind"] == "infer":
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
        model.train()
        opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.01)
        labels = torch.randint(0, 2, (job["batch"],))
        loss_fn = nn.CrossEntropyLoss()
        times, fb = [], []
        for i in range(job["runs"] + 1):
            t = time.perf_counter()
            loss = loss_fn(model(ids), labels)
            loss.backward()
            t_fb = time.perf_counter()
            opt.step()
            opt.zero_grad()
            if i:  # the first step allocates optimizer state
                times.append(time.perf_counter() - t)
                fb.append((t_fb - t) * 1000)
        tokens = job["batch"] * job["seq"]
        out[job["name"]] = {"tokensPerSec": tokens / median(times), "fwdBwdMs": median(fb)}
out["peakRssMB"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(out))
