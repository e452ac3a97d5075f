"""Run HERE (CPU, light): writes model_cfg/ (config + tokenizer, no weights) and rows.json beside this file
(the office imitation rows `lamforge bench train-step` uses, same seed)."""
import json, shutil, sys
from pathlib import Path
from transformers import AutoTokenizer, LlamaConfig

here = Path(__file__).parent
root = here.parents[1]  # the repository root
tok_src = root / ".pytest_cache/d/lamforge/smollm2-tokenizer"
cfg_dir = here / "model_cfg"
cfg_dir.mkdir(exist_ok=True)
for f in tok_src.iterdir():
    shutil.copy(f, cfg_dir / f.name)
cfg = LlamaConfig(hidden_size=576, num_hidden_layers=30, num_attention_heads=9, num_key_value_heads=3,
                  intermediate_size=1536, vocab_size=49152, tie_word_embeddings=True, rope_theta=100000.0,
                  max_position_embeddings=8192, rms_norm_eps=1e-5, hidden_act="silu",
                  bos_token_id=1, eos_token_id=2, pad_token_id=2)
cfg.architectures = ["LlamaForCausalLM"]
cfg.save_pretrained(cfg_dir)
n = int(sys.argv[1]) if len(sys.argv) > 1 else 44
from lamforge.training.bench import _rows
tok = AutoTokenizer.from_pretrained(str(cfg_dir))
rows, _ = _rows(tok, n)
(here / "rows.json").write_text(json.dumps([{"input_ids": r["input_ids"], "labels": r["labels"]} for r in rows]))
lens = [len(r["input_ids"]) for r in rows]
print(n, "rows; mean len", sum(lens) / len(lens), "min", min(lens), "max", max(lens),
      "targets", sum(sum(x != -100 for x in r["labels"]) for r in rows) / len(rows))
