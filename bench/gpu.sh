#!/usr/bin/env bash
# Every GPU table of bench/*.md in one go, each command's output in OUT/NAME.log (and JSON beside).
#
#   bash bench/gpu.sh OUT [MODEL_FOLDER] [ONLY]
#
# MODEL_FOLDER: the real small model as a bf16 folder (`python bench/real_model.py folder …`) for
# the rows that need real weights (the prose LLM pass, the persona recipe sweep on the shipped
# workspace); without it those are skipped. ONLY: a comma list of the names below to run just
# those (e.g. `decode,serve`). Random-weight rows need no download. Each command is independent:
# one that fails is reported and the rest go on. With a model folder, NOVEL=book.txt and
# CHARACTER=name add a character from a novel (its workspace, card and four-row eval), and
# ZHENHUAN=workspace the 甄嬛 sweep.
set -u
out=${1:?usage: bash bench/gpu.sh OUT [MODEL_FOLDER] [ONLY]}
model=${2:-}
only=${3:-}
mkdir -p "$out"
export PYTHONUNBUFFERED=1
py=${PYTHON:-python3}  # PYTHON=… to use another interpreter

run() {
  local name=$1
  shift
  if [ -n "$only" ] && [[ ",$only," != *",$name,"* ]]; then
    return
  fi
  echo "== $name: $*"
  local started=$SECONDS
  "$@" >"$out/$name.log" 2>&1
  echo "   exit $? after $((SECONDS - started)) s; last line: $(tail -n 1 "$out/$name.log")"
}

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv >"$out/gpu.txt" 2>&1

# chat and serving (bench/serve_load.md, bench/chat_speed.md)
run decode "$py" bench/decode_attention.py --device cuda --rows 1,8,32
run decode-step "$py" bench/decode_step.py --device cuda --shape llama-8b
run serve "$py" bench/serve_load.py --device cuda --shape llama-8b --seconds 5 \
  --json "$out/serve.json"
run chat-1 "$py" bench/chat_speed.py --device cuda --shape llama-8b --targets unmerged \
  --prompts 32,512 --json "$out/chat.json"
run chat-2 "$py" bench/chat_speed.py --device cuda --shape llama-8b --targets unmerged \
  --prompts 2048 --json "$out/chat.json" --append
run chat-3 "$py" bench/chat_speed.py --device cuda --shape llama-8b --targets merged \
  --prompts 32,512 --json "$out/chat.json" --append
run chat-4 "$py" bench/chat_speed.py --device cuda --shape llama-8b --targets merged \
  --prompts 2048 --json "$out/chat.json" --append

# training (bench/train_throughput.md, bench/qlora.md)
run train-1 "$py" bench/train_throughput.py --shape llama-8b --warmup 2 --steps 10 --repeats 3 \
  --variants a,b,b+liger,b+varlen --no-parity --out "$out/train.json"
run train-2 "$py" bench/train_throughput.py --shape llama-8b --warmup 2 --steps 10 --repeats 3 \
  --variants b+liger+varlen,b+liger+varlen+compile,b+recipe,b+liger+varlen+recipe \
  --out "$out/train.json" --append
run train-3 "$py" bench/train_throughput.py --shape llama-8b --warmup 2 --steps 10 --repeats 3 \
  --variants c,c:lora_dropout=0.1 --parity-shape llama-8b-narrow --out "$out/train.json" --append
run qlora "$py" bench/qlora.py --shape llama-8b --steps 50

# the real small model (bench/prose_accuracy.md, bench/persona_recipe.md)
if [ -n "$model" ]; then
  run prose-llm "$py" bench/prose_accuracy.py --llm-model "$model" --llm-batch 32 \
    --llm-cache "$out/prose-answers.jsonl"
  run recipe-juliet "$py" bench/persona_recipe.py workspace --model "$model" \
    --scratch "$out/recipe-juliet" --eval-fraction 0.15 --set compile=false \
    --json "$out/juliet.json" \
    --config preset: --config lr-5e-4:lr=5e-4 --config epochs-10:epochs=10 \
    --config rank-64:"lora_r=64 lora_alpha=64" \
    --config attention-only:lora_targets=q_proj,k_proj,v_proj,o_proj
  # the eval's generation, eager (what eval does) against compiled with its compile time counted
  run eval-speed "$py" bench/eval_speed.py "$out/recipe-juliet" --device cuda --items 400 \
    --one-at-a-time-items 20
  # 甄嬛 (ZHENHUAN=a workspace with the 甄嬛传 script in its corpus and its drafted card applied;
  # local only, never shipped): the preset, a lower learning rate, and all four rows of the best
  if [ -n "${ZHENHUAN:-}" ]; then
    run recipe-zhenhuan "$py" bench/persona_recipe.py "$ZHENHUAN" --model "$model" \
      --scratch "$out/recipe-zhenhuan" --set compile=false --json "$out/zhenhuan.json" \
      --config preset: --config lr-1e-4:lr=1e-4
  fi
  # a character from a novel (NOVEL=path/to/book.txt CHARACTER=Elizabeth): its own workspace,
  # its drafted card, and the preset's adapter scored with all four rows
  if [ -n "${NOVEL:-}" ] && [ -n "${CHARACTER:-}" ]; then
    ws="$out/novel-ws"
    if [ ! -d "$ws" ]; then
      "$py" -m studio init "$ws" --character "$CHARACTER" >"$out/novel-init.log" 2>&1
      cp "$NOVEL" "$ws/corpus/"
      "$py" -m studio card "$ws" --apply >>"$out/novel-init.log" 2>&1
    fi
    run recipe-novel "$py" bench/persona_recipe.py "$ws" --model "$model" \
      --scratch "$out/recipe-novel" --set compile=false --json "$out/novel.json" \
      --final preset --config preset:
  fi
fi
echo "results in $out"
