"""Start llama-cpp-python's OpenAI-compatible server with weight repacking off.

Runs in the llm-check environment (llama-cpp-python with its server extra), not in Lore's: it
takes the same arguments as ``python -m llama_cpp.server``. Some CPUs fault in llama.cpp's AMX
kernels, which only the repacked ("extra") buffer types use; the server exposes no flag for
``use_extra_bufts``, so the model's default parameters are changed before it loads.
"""

from __future__ import annotations

import runpy

import llama_cpp.llama_cpp as native

_defaults = native.llama_model_default_params


def _without_extra_bufts():  # noqa: ANN202 - a ctypes struct
    params = _defaults()
    if hasattr(params, "use_extra_bufts"):
        params.use_extra_bufts = False
    return params


native.llama_model_default_params = _without_extra_bufts

if __name__ == "__main__":
    runpy.run_module("llama_cpp.server", run_name="__main__", alter_sys=True)
