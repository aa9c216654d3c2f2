#!/usr/bin/env python3
"""Independent reference for `cohort model run`: the same checkpoint through Hugging Face transformers.

usage: python3 bench/gpu/llama_reference.py MODEL_DIR TOKENS COHORT_OUTPUT
  TOKENS         comma-separated prompt ids, as given to `cohort model run --tokens`
  COHORT_OUTPUT  the text `cohort model run` printed (its "top: id:logit ..." line for the prompt)
Prints transformers' top logits for the last prompt position and the largest difference from Cohort's
values for the same token ids; exits 1 if it exceeds the tolerance.
"""
import re
import sys

import torch
from transformers import LlamaForCausalLM

model_dir, tokens, cohort_out = sys.argv[1], [int(t) for t in sys.argv[2].split(",")], sys.argv[3]
model = LlamaForCausalLM.from_pretrained(model_dir, torch_dtype=torch.float32).eval()
with torch.no_grad():
    logits = model(torch.tensor([tokens])).logits[0, -1].double()
top = torch.topk(logits, 5)
print("transformers top:", "  ".join(f"{i}:{v:.4f}" for v, i in zip(top.values.tolist(), top.indices.tolist())))

line = next(l for l in open(cohort_out) if "top:" in l)
pairs = [(int(i), float(v)) for i, v in re.findall(r"(\d+):(-?[0-9.]+)", line.split("top:", 1)[1])]
diff = max(abs(logits[i].item() - v) for i, v in pairs)
# weights are bf16 in the file and both sides compute in f32 from the same bf16 values: differences come
# from summation order and Cohort's bf16/f32 activations, a few 1e-3 at most on logits of size ~3
tol = 2e-2
print(f"cohort top: {line.split('top:', 1)[1].strip()}")
print(f"max |cohort - transformers| over cohort's top ids: {diff:.5f} (tolerance {tol})")
sys.exit(0 if diff <= tol else 1)
