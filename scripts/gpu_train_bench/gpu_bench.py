"""Time lamforge's SFT training path (lamforge.training.bench.measure -> sft.LamSFTConfig/LamSFTTrainer,
load_for_training, freeze_lower) on whatever device torch sees, on random-init SmolLM2-135M weights.

    python3 scripts/gpu_train_bench/make_inputs.py          # here, on the CPU: config, tokenizer, rows
    python3 scripts/gpu_train_bench/gpu_bench.py --out DIR [--layers 2] [--steps 30] [--steps4 10] [--only a,b]

On a lent GPU machine (the device tool), whose image lacks trl, datasets, pydantic and gymnasium:
carry them as wheels (.whl) with this folder, install them into /tmp/site with --no-deps, put
/tmp/site and the repository on PYTHONPATH, then run the second line. Session 14's figures (README,
"On a GPU") came from `--steps4 10 --only "targets-only-head+freeze-14+batch4+shared-prefix,
targets-only-head+freeze-14+batch4,trl-default"` on an H200.

bench.py's own CLI sets torch.set_num_threads(2) and builds rows with the office env; nothing in
measure() forces the CPU, so this calls measure() itself, on rows made here by make_inputs.py
(the same _rows(tokenizer, n) call, seed 11). Two patches, neither changing the training:
* LamSFTConfig is wrapped to record bf16/fp16/use_cpu after __post_init__ (and, for *-fp32
  variants only, to force bf16=False);
* LamSFTTrainer gets a callback (registered before bench's Clock) that calls torch.cuda.synchronize()
  at step begin/end, so step times count GPU work, not just kernel launches.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))  # the repository root

import torch  # noqa: E402

VARIANTS = {  # name: (freeze, targets_only, lora_r, batch, share_prefix, fp32)
    "trl-default": (0, False, 0, 1, False, False),
    "targets-only-head": (0, True, 0, 1, False, False),
    "targets-only-head+freeze-20": (20, True, 0, 1, False, False),
    "lora-r16": (0, False, 16, 1, False, False),
    "targets-only-head+freeze-14+batch4": (14, True, 0, 4, False, False),
    "targets-only-head+freeze-14+batch4+shared-prefix": (14, True, 0, 4, True, False),
    "trl-default-fp32": (0, False, 0, 1, False, True),
    "targets-only-head+freeze-20-fp32": (20, True, 0, 1, False, True),
}
# the same with gradient checkpointing off (TRL's SFTConfig turns it on by default; LamSFTConfig
# turns it off only on CPU)
VARIANTS.update({k + "+no-ckpt": v for k, v in list(VARIANTS.items())})


def build_model(dst: Path, layers: int | None) -> None:
    from transformers import AutoModelForCausalLM, LlamaConfig

    src = HERE / "model_cfg"
    cfg = LlamaConfig.from_pretrained(str(src))
    if layers:
        cfg.num_hidden_layers = layers
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(cfg, dtype=torch.float32)
    model.save_pretrained(str(dst))
    for f in src.iterdir():
        if f.name != "config.json":
            shutil.copy(f, dst / f.name)
    print(f"model: {sum(p.numel() for p in model.parameters()) / 1e6:.1f}M params, {cfg.num_hidden_layers} layers",
          flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="runs/gpu_train_bench")
    ap.add_argument("--layers", type=int, default=None)
    ap.add_argument("--steps", type=int, default=30, help="timed steps, batch-1 variants")
    ap.add_argument("--steps4", type=int, default=10, help="timed steps, batch-4 variants")
    ap.add_argument("--only", default="")
    a = ap.parse_args()
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)

    import transformers
    import trl

    import lamforge.training.sft as sft
    from lamforge.training import bench

    info = {"torch": torch.__version__, "transformers": transformers.__version__, "trl": trl.__version__,
            "cuda": torch.cuda.is_available(),
            "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}
    print(info, flush=True)

    state = {"fp32": False, "no_ckpt": False, "cfg": None}
    Orig = sft.LamSFTConfig

    class RecConfig(Orig):
        def __post_init__(self):
            if state["fp32"]:
                self.bf16 = False
            if state["no_ckpt"]:
                self.gradient_checkpointing = False
            super().__post_init__()
            state["cfg"] = {"bf16": self.bf16, "fp16": self.fp16, "use_cpu": self.use_cpu,
                            "grad_ckpt": self.gradient_checkpointing, "optim": str(self.optim)}

    from transformers import TrainerCallback

    class Sync(TrainerCallback):
        def on_step_begin(self, *a, **k):
            if torch.cuda.is_available():
                torch.cuda.synchronize()

        def on_step_end(self, *a, **k):
            if torch.cuda.is_available():
                torch.cuda.synchronize()

    OrigT = sft.LamSFTTrainer

    class SyncTrainer(OrigT):
        def __init__(self, *args, **kw):
            super().__init__(*args, **kw)
            self.add_callback(Sync())  # before bench's Clock, so it runs first on step_end
            state["device"] = str(self.args.device)

    sft.LamSFTConfig, sft.LamSFTTrainer = RecConfig, SyncTrainer

    rows_all = json.loads((HERE / "rows.json").read_text())
    names = [n for n in (a.only.split(",") if a.only else VARIANTS) if n]
    results = {"info": info, "variants": {}}
    with tempfile.TemporaryDirectory() as tmp:
        mdir = Path(tmp) / "model"
        t0 = time.perf_counter()
        build_model(mdir, a.layers)
        results["build_s"] = round(time.perf_counter() - t0, 1)
        for name in names:
            freeze, tgt, lora, batch, share, fp32 = VARIANTS[name]
            steps = a.steps if batch == 1 else a.steps4
            rows = rows_all[: (steps + 1) * batch]
            if len(rows) < (steps + 1) * batch:
                raise SystemExit(f"{name}: need {(steps + 1) * batch} rows, have {len(rows_all)}")
            state.update(fp32=fp32, no_ckpt=name.endswith("+no-ckpt"), cfg=None, device=None)
            if torch.cuda.is_available():
                torch.cuda.reset_peak_memory_stats()
            t = time.perf_counter()
            try:
                r = bench.measure(mdir, rows, steps, freeze, tgt, lora, Path(tmp) / name, batch=batch,
                                  share_prefix=share)
                r["row_tokens_mean"] = round(sum(len(x["input_ids"]) for x in rows) / len(rows), 1)
                r["batch"] = batch
                r["config"] = state["cfg"]
                r["device"] = state.get("device")
                if torch.cuda.is_available():
                    r["peak_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
            except Exception as e:  # noqa: BLE001
                r = {"error": f"{type(e).__name__}: {e}", "traceback": traceback.format_exc(),
                     "config": state["cfg"]}
                print(r["traceback"], flush=True)
            r["wall_s"] = round(time.perf_counter() - t, 1)
            results["variants"][name] = r
            print(name, json.dumps({k: v for k, v in r.items() if k != "traceback"}), flush=True)
            (out / "result.json").write_text(json.dumps(results, indent=2))
    print("SUMMARY", json.dumps({k: v.get("tokens_per_s", v.get("error")) for k, v in results["variants"].items()}))


if __name__ == "__main__":
    main()
